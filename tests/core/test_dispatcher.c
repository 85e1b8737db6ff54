/*
 * test_dispatcher.c: agent sessions on the manager (core/dispatcher.c) with
 * a real store and a fake clock: full sync, long poll, differences, removed
 * tasks, heartbeat replies, resync after a lost reply, reset. Owns only its
 * fixtures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "dispatcher.h"
#include "store.h"

#define SEC 1000000000LL

struct catcher {
	int calls;
	json_t *reply;
};

static void catch_reply(void *ctx, json_t *reply)
{
	struct catcher *c = ctx;
	c->calls++;
	json_decref(c->reply);
	c->reply = reply;
}

static void apply_text(struct store *s, const char *text, uint64_t index)
{
	json_error_t jerr;
	json_t *cmd = json_loads(text, 0, &jerr);
	char err[256];
	assert_non_null(cmd);
	assert_int_equal(store_apply(s, cmd, index, err, sizeof(err)), 0);
	json_decref(cmd);
}

static void make_tasks(struct store *s)
{
	apply_text(s, "{\"op\":\"task.create\",\"tasks\":["
		      "{\"ID\":\"a\",\"NodeID\":\"n1\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"assigned\"}},"
		      "{\"ID\":\"b\",\"NodeID\":\"n1\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"running\"}},"
		      "{\"ID\":\"c\",\"NodeID\":\"n2\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"running\"}},"
		      "{\"ID\":\"d\",\"NodeID\":\"n1\",\"DesiredState\":\"running\",\"Status\":{\"State\":\"pending\"}}]}", 1);
}

static json_t *request(const char *session_id, json_int_t ack)
{
	return json_pack("{s:s,s:s,s:s,s:I}", "op", "session", "node_id", "n1",
			 "session_id", session_id, "ack", ack);
}

static void test_first_request_gets_every_assigned_task_of_its_node(void **state)
{
	(void)state;
	struct store s;
	store_init(&s);
	make_tasks(&s);
	struct dispatcher *d = dispatcher_new();
	struct catcher c = { 0 };
	struct inbox_reply_to to = { catch_reply, &c };
	json_t *req = request("", 0);
	assert_string_equal(dispatcher_request(d, &s, req, &to, 10 * SEC, SEC), "n1");
	assert_int_equal(c.calls, 1);
	assert_true(json_is_true(json_object_get(c.reply, "full")));
	/* a and b: n1's tasks from assigned on; not c (n2), not d (pending) */
	assert_int_equal(json_array_size(json_object_get(c.reply, "tasks")), 2);
	assert_int_equal(dispatcher_last_seen(d, "n1"), 10 * SEC);
	json_decref(req);
	json_decref(c.reply);
	dispatcher_free(d);
	store_fini(&s);
}

static void test_long_poll_answers_with_changes_or_after_a_period(void **state)
{
	(void)state;
	struct store s;
	store_init(&s);
	make_tasks(&s);
	struct dispatcher *d = dispatcher_new();
	struct catcher c = { 0 };
	struct inbox_reply_to to = { catch_reply, &c };
	json_t *req = request("", 0);
	dispatcher_request(d, &s, req, &to, 0, SEC);
	json_decref(req);
	char session[32];
	snprintf(session, sizeof(session), "%s", json_string_value(json_object_get(c.reply, "session_id")));
	json_int_t version = json_integer_value(json_object_get(c.reply, "version"));

	/* acknowledged, nothing new: held */
	req = request(session, version);
	dispatcher_request(d, &s, req, &to, SEC / 10, SEC);
	json_decref(req);
	assert_int_equal(c.calls, 1);
	dispatcher_step(d, &s, SEC / 2, SEC);
	assert_int_equal(c.calls, 1);
	assert_int_equal(dispatcher_next_deadline(d, SEC), SEC / 10 + SEC / 2);

	/* task b changes: answered with b only */
	apply_text(&s, "{\"op\":\"task.desired\",\"updates\":[{\"id\":\"b\",\"desired\":\"shutdown\"}]}", 2);
	dispatcher_step(d, &s, SEC / 2, SEC);
	assert_int_equal(c.calls, 2);
	assert_false(json_is_true(json_object_get(c.reply, "full")));
	json_t *tasks = json_object_get(c.reply, "tasks");
	assert_int_equal(json_array_size(tasks), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tasks, 0), "ID")), "b");
	version = json_integer_value(json_object_get(c.reply, "version"));

	/* task a deleted: answered with its id in removed */
	req = request(session, version);
	dispatcher_request(d, &s, req, &to, SEC, SEC);
	json_decref(req);
	apply_text(&s, "{\"op\":\"task.delete\",\"ids\":[\"a\"]}", 3);
	dispatcher_step(d, &s, SEC, SEC);
	assert_int_equal(c.calls, 3);
	assert_int_equal(json_array_size(json_object_get(c.reply, "removed")), 1);
	version = json_integer_value(json_object_get(c.reply, "version"));

	/* nothing for half a period: an empty reply (the heartbeat) */
	req = request(session, version);
	dispatcher_request(d, &s, req, &to, 2 * SEC, SEC);
	json_decref(req);
	assert_int_equal(dispatcher_next_deadline(d, SEC), 2 * SEC + SEC / 2);
	dispatcher_step(d, &s, 2 * SEC + SEC / 2 - 1, SEC);
	assert_int_equal(c.calls, 3);
	dispatcher_step(d, &s, 2 * SEC + SEC / 2, SEC);
	assert_int_equal(c.calls, 4);
	assert_int_equal(json_array_size(json_object_get(c.reply, "tasks")), 0);

	/* an ack of a reply the manager never made: full resync */
	req = request(session, version + 7);
	dispatcher_request(d, &s, req, &to, 4 * SEC, SEC);
	json_decref(req);
	assert_int_equal(c.calls, 5);
	assert_true(json_is_true(json_object_get(c.reply, "full")));
	assert_int_equal(json_array_size(json_object_get(c.reply, "tasks")), 1);

	json_decref(c.reply);
	dispatcher_free(d);
	store_fini(&s);
}

static void test_reset_answers_held_requests_with_an_error(void **state)
{
	(void)state;
	struct store s;
	store_init(&s);
	struct dispatcher *d = dispatcher_new();
	struct catcher c = { 0 };
	struct inbox_reply_to to = { catch_reply, &c };
	json_t *req = request("", 0);
	dispatcher_request(d, &s, req, &to, 0, SEC); /* full: answered */
	json_decref(req);
	char session[32];
	snprintf(session, sizeof(session), "%s", json_string_value(json_object_get(c.reply, "session_id")));
	req = request(session, json_integer_value(json_object_get(c.reply, "version")));
	dispatcher_request(d, &s, req, &to, 0, SEC); /* held */
	json_decref(req);
	assert_int_equal(c.calls, 1);
	dispatcher_reset(d);
	assert_int_equal(c.calls, 2);
	assert_non_null(json_object_get(c.reply, "error"));
	assert_int_equal(dispatcher_last_seen(d, "n1"), 0);
	json_t *bad = json_pack("{s:s}", "op", "session");
	assert_null(dispatcher_request(d, &s, bad, &to, 0, SEC));
	assert_int_equal(c.calls, 3);
	json_decref(bad);
	json_decref(c.reply);
	dispatcher_free(d);
	store_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_request_gets_every_assigned_task_of_its_node),
		cmocka_unit_test(test_long_poll_answers_with_changes_or_after_a_period),
		cmocka_unit_test(test_reset_answers_held_requests_with_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
