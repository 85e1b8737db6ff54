/*
 * test_orchestrator.c: the reconciliation loops (core/orchestrator.c) on a
 * real store, with a fake clock and fake ids: every pass's commands are
 * applied through store_apply, as raft would. Owns only its fixtures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "orchestrator.h"
#include "store.h"
#include "timefmt.h"

#define SEC 1000000000LL

struct fixture {
	struct store s;
	int64_t now;
	uint64_t index;
	unsigned next_id;
};

static void fake_id(void *ctx, char *buf)
{
	struct fixture *f = ctx;
	snprintf(buf, 26, "task%021u", ++f->next_id);
}

static void apply_text(struct fixture *f, const char *text)
{
	json_error_t jerr;
	json_t *cmd = json_loads(text, 0, &jerr);
	assert_non_null(cmd);
	char err[256];
	assert_int_equal(store_apply(&f->s, cmd, ++f->index, err, sizeof(err)), 0);
	json_decref(cmd);
}

/* One orchestrator pass, its commands applied; returns how many. */
static size_t reconcile(struct fixture *f, int64_t *wakeup)
{
	struct orchestrator_input in = { .store = &f->s, .now_ns = f->now,
					 .history_limit = 5, .new_id = fake_id,
					 .id_ctx = f };
	json_t *cmds = orchestrator_reconcile(&in, wakeup);
	size_t n = json_array_size(cmds), i;
	json_t *cmd;
	json_array_foreach(cmds, i, cmd) {
		char err[256];
		assert_int_equal(store_apply(&f->s, cmd, ++f->index, err, sizeof(err)), 0);
	}
	json_decref(cmds);
	return n;
}

static void add_node(struct fixture *f, const char *id, const char *avail,
		     const char *state)
{
	char text[512];
	snprintf(text, sizeof(text),
		 "{\"op\":\"node.put\",\"node\":{\"ID\":\"%s\",\"Spec\":{\"Availability\":\"%s\"},\"Status\":{\"State\":\"%s\"}}}",
		 id, avail, state);
	apply_text(f, text);
}

static void add_service(struct fixture *f, const char *mode_json,
			const char *restart_json)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"op\":\"service.create\",\"service\":{\"ID\":\"svc\",\"Spec\":{\"Name\":\"web\",\"Mode\":%s,"
		 "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"},\"RestartPolicy\":%s}}}}",
		 mode_json, restart_json);
	apply_text(f, text);
}

static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof(f));
	store_init(&f.s);
	f.now = 1700000000LL * SEC;
	add_node(&f, "n1", "active", "ready");
	add_node(&f, "n2", "active", "ready");
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_fini(&f->s);
	return 0;
}

/* Live tasks (desired running, not ended) of the service, by slot/node. */
static size_t count_live(struct fixture *f)
{
	size_t n = 0;
	const char *id;
	json_t *t;
	json_object_foreach(f->s.tasks, id, t)
		if (strcmp(store_task_desired(t), "running") == 0 &&
		    !task_state_ended(store_task_state(t)))
			n++;
	return n;
}

static void set_state(struct fixture *f, const char *task_id, const char *st)
{
	char text[512], now[40];
	timefmt_rfc3339(f->now, now, sizeof(now));
	snprintf(text, sizeof(text),
		 "{\"op\":\"task.status\",\"updates\":[{\"id\":\"%s\",\"state\":\"%s\",\"now\":\"%s\"}]}",
		 task_id, st, now);
	apply_text(f, text);
}

static void test_replicated_creates_one_task_per_slot_and_is_idempotent(void **state)
{
	struct fixture *f = *state;
	add_service(f, "{\"Replicated\":{\"Replicas\":3}}", "{}");
	assert_int_equal(reconcile(f, NULL), 1);
	assert_int_equal(json_object_size(f->s.tasks), 3);
	for (int slot = 1; slot <= 3; slot++) {
		char id[32];
		snprintf(id, sizeof(id), "task%021u", slot);
		assert_int_equal(store_task_slot(store_task(&f->s, id)), slot);
		assert_int_equal(store_task_state(store_task(&f->s, id)), TASK_NEW);
	}
	assert_int_equal(reconcile(f, NULL), 0);
}

static void test_scale_down_shuts_down_the_highest_slots(void **state)
{
	struct fixture *f = *state;
	add_service(f, "{\"Replicated\":{\"Replicas\":3}}", "{}");
	reconcile(f, NULL);
	apply_text(f, "{\"op\":\"service.update\",\"id\":\"svc\",\"version\":3,\"spec\":{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":2}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"}}}}");
	assert_int_equal(reconcile(f, NULL), 1);
	assert_string_equal(store_task_desired(store_task(&f->s, "task000000000000000000003")), "shutdown");
	assert_int_equal(count_live(f), 2);
	assert_int_equal(reconcile(f, NULL), 0);
}

static void test_failed_task_restarts_after_the_delay(void **state)
{
	struct fixture *f = *state;
	add_service(f, "{\"Replicated\":{\"Replicas\":1}}", "{\"Condition\":\"any\",\"Delay\":5000000000}");
	reconcile(f, NULL);
	set_state(f, "task000000000000000000001", "failed");
	int64_t wakeup = 0;
	assert_int_equal(reconcile(f, &wakeup), 0);
	assert_int_equal(wakeup, f->now + 5 * SEC);
	f->now += 5 * SEC;
	assert_int_equal(reconcile(f, &wakeup), 2); /* old: shutdown; new task */
	json_t *fresh = store_task(&f->s, "task000000000000000000002");
	assert_non_null(fresh);
	assert_int_equal(store_task_slot(fresh), 1);
	assert_string_equal(store_task_desired(store_task(&f->s, "task000000000000000000001")), "shutdown");
	assert_int_equal(reconcile(f, NULL), 0);
}

static void test_restart_condition_none_and_on_failure(void **state)
{
	struct fixture *f = *state;
	add_service(f, "{\"Replicated\":{\"Replicas\":1}}", "{\"Condition\":\"on-failure\",\"Delay\":0}");
	reconcile(f, NULL);
	set_state(f, "task000000000000000000001", "complete");
	assert_int_equal(reconcile(f, NULL), 0); /* exited 0: not restarted */
	apply_text(f, "{\"op\":\"service.update\",\"id\":\"svc\",\"version\":3,\"spec\":{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":2}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"},\"RestartPolicy\":{\"Condition\":\"none\"}}}}");
	assert_int_equal(reconcile(f, NULL), 1); /* slot 2 is new: created */
	set_state(f, "task000000000000000000002", "failed");
	assert_int_equal(reconcile(f, NULL), 0); /* condition none */
}

static void test_restart_stops_after_max_attempts(void **state)
{
	struct fixture *f = *state;
	add_service(f, "{\"Replicated\":{\"Replicas\":1}}", "{\"Condition\":\"any\",\"Delay\":0,\"MaxAttempts\":2}");
	reconcile(f, NULL);
	for (unsigned i = 1; i <= 2; i++) {
		char id[32];
		snprintf(id, sizeof(id), "task%021u", i);
		set_state(f, id, "failed");
		assert_int_equal(reconcile(f, NULL), 2);
	}
	set_state(f, "task000000000000000000003", "failed");
	assert_int_equal(reconcile(f, NULL), 0);
	assert_int_equal(count_live(f), 0);
}

static void test_global_runs_one_task_per_active_node(void **state)
{
	struct fixture *f = *state;
	add_service(f, "{\"Global\":{}}", "{}");
	reconcile(f, NULL);
	assert_int_equal(json_object_size(f->s.tasks), 2);
	assert_string_equal(store_task_node(store_task(&f->s, "task000000000000000000001")), "n1");
	assert_string_equal(store_task_node(store_task(&f->s, "task000000000000000000002")), "n2");
	add_node(f, "n3", "pause", "ready");
	assert_int_equal(reconcile(f, NULL), 0); /* paused: nothing new */
	add_node(f, "n2", "drain", "ready");
	assert_int_equal(reconcile(f, NULL), 1);
	assert_string_equal(store_task_desired(store_task(&f->s, "task000000000000000000002")), "shutdown");
	assert_int_equal(count_live(f), 1);
	add_node(f, "n1", "active", "down");
	assert_int_equal(reconcile(f, NULL), 0); /* global tasks stay on a down node */
}

static void test_replicated_task_leaves_a_drained_or_down_node(void **state)
{
	struct fixture *f = *state;
	add_service(f, "{\"Replicated\":{\"Replicas\":1}}", "{}");
	reconcile(f, NULL);
	apply_text(f, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"task000000000000000000001\",\"state\":\"pending\",\"now\":\"x\"}]}");
	apply_text(f, "{\"op\":\"task.assign\",\"now\":\"x\",\"assignments\":[{\"id\":\"task000000000000000000001\",\"node\":\"n1\"}]}");
	add_node(f, "n1", "drain", "ready");
	assert_int_equal(reconcile(f, NULL), 2);
	assert_string_equal(store_task_desired(store_task(&f->s, "task000000000000000000001")), "shutdown");
	assert_null(store_task_node(store_task(&f->s, "task000000000000000000002")));
	assert_int_equal(count_live(f), 1);
}

static void test_history_is_bounded_per_slot(void **state)
{
	struct fixture *f = *state;
	add_service(f, "{\"Replicated\":{\"Replicas\":1}}", "{\"Condition\":\"any\",\"Delay\":0}");
	reconcile(f, NULL);
	for (unsigned i = 1; i <= 7; i++) {
		char id[32];
		snprintf(id, sizeof(id), "task%021u", i);
		f->now += SEC;
		set_state(f, id, "failed");
		reconcile(f, NULL);
	}
	assert_int_equal(json_object_size(f->s.tasks), 5);
	assert_null(store_task(&f->s, "task000000000000000000001"));
	assert_non_null(store_task(&f->s, "task000000000000000000008"));
	assert_int_equal(count_live(f), 1);
}

static void test_tasks_of_a_removed_service_go_once_ended(void **state)
{
	struct fixture *f = *state;
	add_service(f, "{\"Replicated\":{\"Replicas\":2}}", "{}");
	reconcile(f, NULL);
	set_state(f, "task000000000000000000001", "pending");
	apply_text(f, "{\"op\":\"task.assign\",\"now\":\"x\",\"assignments\":[{\"id\":\"task000000000000000000001\",\"node\":\"n1\"}]}");
	set_state(f, "task000000000000000000001", "running");
	apply_text(f, "{\"op\":\"service.remove\",\"id\":\"svc\"}");
	reconcile(f, NULL);
	/* never placed: gone at once; running: kept until it ended */
	assert_null(store_task(&f->s, "task000000000000000000002"));
	assert_non_null(store_task(&f->s, "task000000000000000000001"));
	set_state(f, "task000000000000000000001", "shutdown");
	reconcile(f, NULL);
	assert_int_equal(json_object_size(f->s.tasks), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replicated_creates_one_task_per_slot_and_is_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scale_down_shuts_down_the_highest_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_task_restarts_after_the_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_condition_none_and_on_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_stops_after_max_attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_runs_one_task_per_active_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replicated_task_leaves_a_drained_or_down_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_is_bounded_per_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tasks_of_a_removed_service_go_once_ended, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
