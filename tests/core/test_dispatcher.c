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
#include <stdlib.h>
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

/* A dispatcher over a store, with the replies it sends caught in c. */
struct fixture {
	struct store s;
	struct dispatcher *d;
	struct catcher c;
	struct inbox_reply_to to;
	char session[32];
};

static int setup_empty(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	store_init(&f->s);
	f->d = dispatcher_new();
	f->to = (struct inbox_reply_to){ catch_reply, &f->c };
	*state = f;
	return 0;
}

static int setup_with_tasks(void **state)
{
	if (setup_empty(state) != 0)
		return -1;
	make_tasks(&((struct fixture *)*state)->s);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	json_decref(f->c.reply);
	dispatcher_free(f->d);
	store_fini(&f->s);
	free(f);
	return 0;
}

/* Sends n1's request in f's session, acknowledging version ack. */
static void ask(struct fixture *f, json_int_t ack, int64_t now)
{
	json_t *req = request(f->session, ack);
	dispatcher_request(f->d, &f->s, req, &f->to, now, SEC);
	json_decref(req);
}

/* Opens a session for n1 (a full reply) and returns the reply's version. */
static json_int_t open_session(struct fixture *f, int64_t now)
{
	ask(f, 0, now);
	snprintf(f->session, sizeof(f->session), "%s",
		 json_string_value(json_object_get(f->c.reply, "session_id")));
	return json_integer_value(json_object_get(f->c.reply, "version"));
}

static void test_first_request_gets_every_assigned_task_of_its_node(void **state)
{
	struct fixture *f = *state;
	json_t *req = request("", 0);
	assert_string_equal(dispatcher_request(f->d, &f->s, req, &f->to, 10 * SEC, SEC), "n1");
	assert_int_equal(f->c.calls, 1);
	assert_true(json_is_true(json_object_get(f->c.reply, "full")));
	/* a and b: n1's tasks from assigned on; not c (n2), not d (pending) */
	assert_int_equal(json_array_size(json_object_get(f->c.reply, "tasks")), 2);
	assert_int_equal(dispatcher_last_seen(f->d, "n1"), 10 * SEC);
	json_decref(req);
}

static void test_long_poll_answers_with_changes_or_after_a_period(void **state)
{
	struct fixture *f = *state;
	struct catcher *c = &f->c;
	json_int_t version = open_session(f, 0);

	/* acknowledged, nothing new: held */
	ask(f, version, SEC / 10);
	assert_int_equal(c->calls, 1);
	dispatcher_step(f->d, &f->s, SEC / 2, SEC);
	assert_int_equal(c->calls, 1);
	assert_int_equal(dispatcher_next_deadline(f->d, SEC), SEC / 10 + SEC / 2);

	/* task b changes: answered with b only */
	apply_text(&f->s, "{\"op\":\"task.desired\",\"updates\":[{\"id\":\"b\",\"desired\":\"shutdown\"}]}", 2);
	dispatcher_step(f->d, &f->s, SEC / 2, SEC);
	assert_int_equal(c->calls, 2);
	assert_false(json_is_true(json_object_get(c->reply, "full")));
	json_t *tasks = json_object_get(c->reply, "tasks");
	assert_int_equal(json_array_size(tasks), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tasks, 0), "ID")), "b");
	version = json_integer_value(json_object_get(c->reply, "version"));

	/* task a deleted: answered with its id in removed */
	ask(f, version, SEC);
	apply_text(&f->s, "{\"op\":\"task.delete\",\"ids\":[\"a\"]}", 3);
	dispatcher_step(f->d, &f->s, SEC, SEC);
	assert_int_equal(c->calls, 3);
	assert_int_equal(json_array_size(json_object_get(c->reply, "removed")), 1);
	version = json_integer_value(json_object_get(c->reply, "version"));

	/* nothing for half a period: an empty reply (the heartbeat) */
	ask(f, version, 2 * SEC);
	assert_int_equal(dispatcher_next_deadline(f->d, SEC), 2 * SEC + SEC / 2);
	dispatcher_step(f->d, &f->s, 2 * SEC + SEC / 2 - 1, SEC);
	assert_int_equal(c->calls, 3);
	dispatcher_step(f->d, &f->s, 2 * SEC + SEC / 2, SEC);
	assert_int_equal(c->calls, 4);
	assert_int_equal(json_array_size(json_object_get(c->reply, "tasks")), 0);

	/* an ack of a reply the manager never made: full resync */
	ask(f, version + 7, 4 * SEC);
	assert_int_equal(c->calls, 5);
	assert_true(json_is_true(json_object_get(c->reply, "full")));
	assert_int_equal(json_array_size(json_object_get(c->reply, "tasks")), 1);
}

static void test_reset_answers_held_requests_with_an_error(void **state)
{
	struct fixture *f = *state;
	json_int_t version = open_session(f, 0); /* full: answered */
	ask(f, version, 0);                       /* held */
	assert_int_equal(f->c.calls, 1);
	dispatcher_reset(f->d);
	assert_int_equal(f->c.calls, 2);
	assert_non_null(json_object_get(f->c.reply, "error"));
	assert_int_equal(dispatcher_last_seen(f->d, "n1"), 0);
	json_t *bad = json_pack("{s:s}", "op", "session");
	assert_null(dispatcher_request(f->d, &f->s, bad, &f->to, 0, SEC));
	assert_int_equal(f->c.calls, 3);
	json_decref(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_request_gets_every_assigned_task_of_its_node,
						setup_with_tasks, teardown),
		cmocka_unit_test_setup_teardown(test_long_poll_answers_with_changes_or_after_a_period,
						setup_with_tasks, teardown),
		cmocka_unit_test_setup_teardown(test_reset_answers_held_requests_with_an_error,
						setup_empty, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
