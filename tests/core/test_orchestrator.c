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

/* Applies one store command, written as printf-style JSON text; the
 * command must parse and the store must take it. */
static void __attribute__((format(printf, 2, 3)))
apply(struct fixture *f, const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(text));
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
	apply(f, "{\"op\":\"node.put\",\"node\":{\"ID\":\"%s\",\"Spec\":{\"Availability\":\"%s\"},\"Status\":{\"State\":\"%s\"}}}",
	      id, avail, state);
}

static void add_service(struct fixture *f, const char *mode_json,
			const char *restart_json)
{
	apply(f, "{\"op\":\"service.create\",\"service\":{\"ID\":\"svc\",\"Spec\":{\"Name\":\"web\",\"Mode\":%s,"
	      "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"},\"RestartPolicy\":%s}}}}",
	      mode_json, restart_json);
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
	char now[40];
	timefmt_rfc3339(f->now, now, sizeof(now));
	apply(f, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"%s\",\"state\":\"%s\",\"now\":\"%s\"}]}",
	      task_id, st, now);
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
	apply(f, "{\"op\":\"service.update\",\"id\":\"svc\",\"version\":3,\"spec\":{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":2}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"},\"RestartPolicy\":{}}}}");
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
	apply(f, "{\"op\":\"service.update\",\"id\":\"svc\",\"version\":3,\"spec\":{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":2}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"},\"RestartPolicy\":{\"Condition\":\"none\"}}}}");
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
	apply(f, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"task000000000000000000001\",\"state\":\"pending\",\"now\":\"x\"}]}");
	apply(f, "{\"op\":\"task.assign\",\"now\":\"x\",\"assignments\":[{\"id\":\"task000000000000000000001\",\"node\":\"n1\"}]}");
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
	apply(f, "{\"op\":\"task.assign\",\"now\":\"x\",\"assignments\":[{\"id\":\"task000000000000000000001\",\"node\":\"n1\"}]}");
	set_state(f, "task000000000000000000001", "running");
	apply(f, "{\"op\":\"service.remove\",\"id\":\"svc\"}");
	reconcile(f, NULL);
	/* never placed: gone at once; running: kept until it ended */
	assert_null(store_task(&f->s, "task000000000000000000002"));
	assert_non_null(store_task(&f->s, "task000000000000000000001"));
	set_state(f, "task000000000000000000001", "shutdown");
	reconcile(f, NULL);
	assert_int_equal(json_object_size(f->s.tasks), 0);
}

/* ------------------------------------------------- rolling updates */

static const char *tid(unsigned n)
{
	static char ids[8][32];
	static unsigned next;
	char *buf = ids[next++ % 8];
	snprintf(buf, 32, "task%021u", n);
	return buf;
}

/* Creates service "svc" from a whole Spec (JSON text). */
static void create_service(struct fixture *f, const char *spec)
{
	apply(f, "{\"op\":\"service.create\",\"service\":{\"ID\":\"svc\",\"Spec\":%s}}", spec);
}

/* service.update of "svc" at its current version. */
static void update_service(struct fixture *f, const char *spec)
{
	json_int_t version = json_integer_value(json_object_get(
		json_object_get(store_service(&f->s, "svc"), "Version"), "Index"));
	apply(f, "{\"op\":\"service.update\",\"id\":\"svc\",\"version\":%lld,\"now\":\"x\",\"spec\":%s}",
	      (long long)version, spec);
}

/* The scheduler's and the agent's part: pending, assigned to node, running. */
static void run_on(struct fixture *f, const char *task_id, const char *node)
{
	set_state(f, task_id, "pending");
	apply(f, "{\"op\":\"task.assign\",\"now\":\"x\",\"assignments\":[{\"id\":\"%s\",\"node\":\"%s\"}]}",
	      task_id, node);
	set_state(f, task_id, "running");
}

static const char *update_state(struct fixture *f)
{
	return json_string_value(json_object_get(
		json_object_get(store_service(&f->s, "svc"), "UpdateStatus"), "State"));
}

static const char *desired_of(struct fixture *f, unsigned n)
{
	return store_task_desired(store_task(&f->s, tid(n)));
}

static const char *image_of(struct fixture *f, unsigned n)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(store_task(&f->s, tid(n)), "Spec"),
				"ContainerSpec"),
		"Image"));
}

#define WEB(replicas, image, update) \
	"{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":" #replicas "}}," \
	"\"UpdateConfig\":" update ",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"" image "\"}," \
	"\"RestartPolicy\":{\"Condition\":\"none\"}}}"

/* The Spec of three replicas of image with the given UpdateConfig (one
 * of a few rotating buffers, like tid). */
static const char *three_of(const char *update, const char *image)
{
	static char specs[4][1024];
	static unsigned next;
	char *spec = specs[next++ % 4];
	snprintf(spec, sizeof(specs[0]),
		 "{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":3}},\"UpdateConfig\":%s,"
		 "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"%s\"},\"RestartPolicy\":{\"Condition\":\"none\"}}}",
		 update, image);
	return spec;
}

/* Three replicas running on n1 and n2, tasks 1..3. */
static void three_running(struct fixture *f, const char *update)
{
	create_service(f, three_of(update, "v1"));
	reconcile(f, NULL);
	run_on(f, tid(1), "n1");
	run_on(f, tid(2), "n2");
	run_on(f, tid(3), "n1");
	assert_int_equal(reconcile(f, NULL), 0);
}

static void update_image(struct fixture *f, const char *update, const char *image)
{
	update_service(f, three_of(update, image));
}

/* Three replicas running v1, then an update to v2 under update (the
 * UpdateConfig), not reconciled yet. */
static void three_updated_to_v2(struct fixture *f, const char *update)
{
	three_running(f, update);
	update_image(f, update, "v2");
}

static void test_update_goes_by_batches_waits_for_running_and_delay(void **state)
{
	struct fixture *f = *state;
	const char *cfg = "{\"Parallelism\":2,\"Delay\":10000000000}";
	three_running(f, cfg);
	assert_null(update_state(f)); /* just created: not updating */
	update_image(f, cfg, "v2");
	int64_t wakeup = 0;
	assert_int_equal(reconcile(f, &wakeup), 3); /* status, shutdowns, creates */
	assert_string_equal(update_state(f), "updating");
	assert_string_equal(desired_of(f, 1), "shutdown");
	assert_string_equal(desired_of(f, 2), "shutdown");
	assert_string_equal(desired_of(f, 3), "running");
	assert_string_equal(image_of(f, 4), "v2");
	assert_string_equal(image_of(f, 5), "v2");
	assert_int_equal(store_task_slot(store_task(&f->s, tid(4))), 1);
	assert_int_equal(reconcile(f, NULL), 0); /* replacements in flight */
	f->now += SEC;
	run_on(f, tid(4), "n1");
	assert_int_equal(reconcile(f, NULL), 0); /* task 5 still in flight */
	f->now += SEC;
	run_on(f, tid(5), "n2");
	assert_int_equal(reconcile(f, &wakeup), 0);
	assert_int_equal(wakeup, f->now + 10 * SEC); /* Delay after the last */
	f->now += 10 * SEC - 1;
	assert_int_equal(reconcile(f, NULL), 0);
	f->now += 1;
	assert_int_equal(reconcile(f, NULL), 2); /* slot 3 */
	assert_string_equal(desired_of(f, 3), "shutdown");
	assert_string_equal(image_of(f, 6), "v2");
	assert_string_equal(update_state(f), "updating");
	run_on(f, tid(6), "n1");
	assert_int_equal(reconcile(f, &wakeup), 0);
	assert_int_equal(wakeup, f->now + 5 * SEC); /* Monitor's default */
	f->now += 5 * SEC;
	assert_int_equal(reconcile(f, NULL), 1);
	assert_string_equal(update_state(f), "completed");
	json_t *status = json_object_get(store_service(&f->s, "svc"), "UpdateStatus");
	assert_non_null(json_object_get(status, "StartedAt"));
	assert_non_null(json_object_get(status, "CompletedAt"));
	assert_int_equal(reconcile(f, NULL), 0);
	assert_int_equal(count_live(f), 3);
}

static void test_update_start_first_stops_the_old_task_once_the_new_runs(void **state)
{
	struct fixture *f = *state;
	const char *cfg = "{\"Parallelism\":1,\"Order\":\"start-first\"}";
	three_updated_to_v2(f, cfg);
	assert_int_equal(reconcile(f, NULL), 2); /* status, create */
	assert_string_equal(desired_of(f, 1), "running");
	assert_string_equal(image_of(f, 4), "v2");
	assert_int_equal(count_live(f), 4);
	assert_int_equal(reconcile(f, NULL), 0);
	run_on(f, tid(4), "n2");
	assert_int_equal(reconcile(f, NULL), 2); /* old of slot 1 down, slot 2 new */
	assert_string_equal(desired_of(f, 1), "shutdown");
	assert_string_equal(desired_of(f, 2), "running");
	assert_string_equal(image_of(f, 5), "v2");
	assert_int_equal(count_live(f), 4);
}

static void test_update_pauses_on_failure_with_the_task_and_its_error(void **state)
{
	struct fixture *f = *state;
	const char *cfg = "{\"Parallelism\":1}";
	three_updated_to_v2(f, cfg);
	reconcile(f, NULL);
	apply(f, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"%s\",\"state\":\"failed\",\"now\":\"x\",\"err\":\"no such image\"}]}",
	      tid(4));
	assert_int_equal(reconcile(f, NULL), 1);
	assert_string_equal(update_state(f), "paused");
	const char *message = json_string_value(json_object_get(
		json_object_get(store_service(&f->s, "svc"), "UpdateStatus"), "Message"));
	assert_non_null(strstr(message, tid(4)));
	assert_non_null(strstr(message, "no such image"));
	assert_int_equal(reconcile(f, NULL), 0); /* stays paused: 2 and 3 stay */
	assert_string_equal(desired_of(f, 2), "running");
	assert_string_equal(image_of(f, 2), "v1");
	/* the next service update starts over */
	update_image(f, cfg, "v3");
	assert_null(update_state(f));
	assert_int_equal(reconcile(f, NULL), 3);
	assert_string_equal(update_state(f), "updating");
}

static void test_update_failure_within_monitor_and_continue(void **state)
{
	struct fixture *f = *state;
	const char *cfg = "{\"Parallelism\":1,\"FailureAction\":\"continue\",\"Monitor\":10000000000}";
	three_updated_to_v2(f, cfg);
	reconcile(f, NULL);
	run_on(f, tid(4), "n1");
	f->now += 9 * SEC; /* ended 9 s after running: within Monitor */
	set_state(f, tid(4), "failed");
	assert_int_equal(reconcile(f, NULL), 2); /* continue: slot 2 replaced */
	assert_string_equal(update_state(f), "updating");
	assert_string_equal(desired_of(f, 2), "shutdown");
	assert_string_equal(image_of(f, 5), "v2");
}

static void test_update_pauses_only_above_max_failure_ratio(void **state)
{
	struct fixture *f = *state;
	const char *cfg = "{\"Parallelism\":1,\"MaxFailureRatio\":0.4}";
	three_updated_to_v2(f, cfg);
	reconcile(f, NULL);
	set_state(f, tid(4), "rejected"); /* 1 of 3 slots: 0.33 <= 0.4 */
	assert_int_equal(reconcile(f, NULL), 2);
	assert_string_equal(update_state(f), "updating");
	set_state(f, tid(5), "failed"); /* 2 of 3 */
	assert_int_equal(reconcile(f, NULL), 1);
	assert_string_equal(update_state(f), "paused");
}

static void test_force_update_replaces_every_task(void **state)
{
	struct fixture *f = *state;
	const char *cfg = "{\"Parallelism\":0}";
	three_running(f, cfg);
	update_service(f, "{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":3}},\"UpdateConfig\":{\"Parallelism\":0},"
		       "\"TaskTemplate\":{\"ForceUpdate\":1,\"ContainerSpec\":{\"Image\":\"v1\"},\"RestartPolicy\":{\"Condition\":\"none\"}}}");
	assert_int_equal(reconcile(f, NULL), 3);
	for (unsigned i = 1; i <= 3; i++)
		assert_string_equal(desired_of(f, i), "shutdown");
	for (unsigned i = 4; i <= 6; i++)
		assert_int_equal(json_integer_value(json_object_get(json_object_get(
					 store_task(&f->s, tid(i)), "Spec"), "ForceUpdate")), 1);
	assert_int_equal(count_live(f), 3);
}

static void test_scaling_is_not_an_update(void **state)
{
	struct fixture *f = *state;
	const char *cfg = "{}";
	three_running(f, cfg);
	update_service(f, WEB(5, "v1", "{}"));
	assert_int_equal(reconcile(f, NULL), 1); /* slots 4 and 5 only */
	assert_null(update_state(f));
	for (unsigned i = 1; i <= 3; i++)
		assert_string_equal(desired_of(f, i), "running");
	assert_int_equal(count_live(f), 5);
}

static void test_update_reconcile_is_idempotent(void **state)
{
	struct fixture *f = *state;
	const char *cfg = "{\"Parallelism\":2}";
	three_updated_to_v2(f, cfg);
	struct orchestrator_input in = { .store = &f->s, .now_ns = f->now,
					 .history_limit = 5, .new_id = fake_id,
					 .id_ctx = f };
	unsigned ids = f->next_id;
	json_t *first = orchestrator_reconcile(&in, NULL);
	f->next_id = ids;
	json_t *second = orchestrator_reconcile(&in, NULL);
	assert_true(json_equal(first, second));
	assert_int_equal(json_array_size(first), 3);
	json_decref(first);
	json_decref(second);
	f->next_id = ids;
	assert_int_equal(reconcile(f, NULL), 3);
	assert_int_equal(reconcile(f, NULL), 0);
	f->now += 60 * SEC; /* time alone moves nothing while tasks are in flight */
	assert_int_equal(reconcile(f, NULL), 0);
}

static void test_global_service_updates_node_by_node(void **state)
{
	struct fixture *f = *state;
	create_service(f, "{\"Name\":\"web\",\"Mode\":{\"Global\":{}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"v1\"}}}");
	reconcile(f, NULL);
	run_on(f, tid(1), "n1");
	run_on(f, tid(2), "n2");
	update_service(f, "{\"Name\":\"web\",\"Mode\":{\"Global\":{}},\"UpdateConfig\":{\"Monitor\":0},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"v2\"}}}");
	assert_int_equal(reconcile(f, NULL), 3);
	assert_string_equal(desired_of(f, 1), "shutdown");
	assert_string_equal(desired_of(f, 2), "running");
	assert_string_equal(store_task_node(store_task(&f->s, tid(3))), "n1");
	set_state(f, tid(3), "pending");
	apply(f, "{\"op\":\"task.assign\",\"now\":\"x\",\"assignments\":[{\"id\":\"task000000000000000000003\",\"node\":\"n1\"}]}");
	set_state(f, tid(3), "running");
	assert_int_equal(reconcile(f, NULL), 2);
	assert_string_equal(store_task_node(store_task(&f->s, tid(4))), "n2");
	run_on(f, tid(4), "n2");
	assert_int_equal(reconcile(f, NULL), 1);
	assert_string_equal(update_state(f), "completed");
}

/* ------------------------------------------------------ rebalancing */

static void put_node(struct fixture *f, const char *id, const char *labels,
		     long long memory)
{
	apply(f, "{\"op\":\"node.put\",\"node\":{\"ID\":\"%s\",\"Spec\":{\"Availability\":\"active\",\"Labels\":%s},"
	      "\"Status\":{\"State\":\"ready\"},\"Description\":{\"Resources\":{\"NanoCPUs\":4000000000,\"MemoryBytes\":%lld}}}}",
	      id, labels, memory);
}

/* Four replicas all running on n1 (n2 was down), with the given extra
 * TaskTemplate members and service-level OrchRebalance. */
static void four_on_n1(struct fixture *f, const char *template_extra,
		       const char *rebalance)
{
	char spec[1024];
	snprintf(spec, sizeof(spec),
		 "{\"Name\":\"web\",\"OrchRebalance\":%s,\"Mode\":{\"Replicated\":{\"Replicas\":4}},"
		 "\"TaskTemplate\":{%s\"ContainerSpec\":{\"Image\":\"v1\"}}}",
		 rebalance, template_extra);
	create_service(f, spec);
	reconcile(f, NULL);
	for (unsigned i = 1; i <= 4; i++) {
		f->now += SEC;
		run_on(f, tid(i), "n1");
	}
}

static void test_rebalance_off_leaves_a_returned_node_empty(void **state)
{
	struct fixture *f = *state;
	four_on_n1(f, "", "false");
	assert_int_equal(reconcile(f, NULL), 0);
	assert_int_equal(count_live(f), 4);
}

static void test_rebalance_moves_one_task_per_pass_until_even(void **state)
{
	struct fixture *f = *state;
	four_on_n1(f, "", "true");
	assert_int_equal(reconcile(f, NULL), 2); /* one shutdown, one create */
	assert_string_equal(desired_of(f, 4), "shutdown"); /* the newest */
	assert_int_equal(store_task_slot(store_task(&f->s, tid(5))), 4);
	assert_int_equal(count_live(f), 4);
	assert_int_equal(reconcile(f, NULL), 0); /* never while one is in flight */
	run_on(f, tid(5), "n2");
	set_state(f, tid(4), "shutdown");
	assert_int_equal(reconcile(f, NULL), 2); /* 3 vs 1: one more */
	assert_string_equal(desired_of(f, 3), "shutdown");
	run_on(f, tid(6), "n2");
	set_state(f, tid(3), "shutdown");
	assert_int_equal(reconcile(f, NULL), 0); /* 2 vs 2 */
}

static void test_rebalance_is_on_for_the_cluster(void **state)
{
	struct fixture *f = *state;
	apply(f, "{\"op\":\"cluster.init\",\"cluster\":{\"ID\":\"c\",\"Spec\":{\"Orchestration\":{\"OrchRebalance\":true}}},\"node\":{\"ID\":\"n1\",\"Spec\":{\"Availability\":\"active\"},\"Status\":{\"State\":\"ready\"}}}");
	four_on_n1(f, "", "false");
	assert_int_equal(reconcile(f, NULL), 2);
}

static void test_rebalance_respects_constraints_and_resources(void **state)
{
	struct fixture *f = *state;
	put_node(f, "n1", "{\"zone\":\"east\"}", 8LL << 30);
	put_node(f, "n2", "{\"zone\":\"west\"}", 8LL << 30);
	put_node(f, "n3", "{\"zone\":\"EAST\"}", 1LL << 30);
	four_on_n1(f, "\"Placement\":{\"Constraints\":[\"node.labels.zone==east\"]},"
		      "\"Resources\":{\"Reservations\":{\"MemoryBytes\":2147483648}},", "true");
	/* n2 is out of the zone, n3 has no room for 2 GiB */
	assert_int_equal(reconcile(f, NULL), 0);
	put_node(f, "n3", "{\"zone\":\"EAST\"}", 4LL << 30);
	assert_int_equal(reconcile(f, NULL), 2);
}

static void test_rebalance_waits_for_an_update(void **state)
{
	struct fixture *f = *state;
	four_on_n1(f, "", "true");
	update_service(f, "{\"Name\":\"web\",\"OrchRebalance\":true,\"Mode\":{\"Replicated\":{\"Replicas\":4}},"
		       "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"v2\"}}}");
	assert_int_equal(reconcile(f, NULL), 3); /* the update's first batch only */
	assert_string_equal(update_state(f), "updating");
	assert_int_equal(count_live(f), 4);
}

static void test_update_ignores_a_failure_after_monitor(void **state)
{
	struct fixture *f = *state;
	const char *cfg = "{\"Parallelism\":1,\"Monitor\":10000000000}";
	three_updated_to_v2(f, cfg);
	reconcile(f, NULL);
	run_on(f, tid(4), "n1");
	f->now += 10 * SEC; /* ran for the whole Monitor: not an update failure */
	set_state(f, tid(4), "failed");
	assert_int_equal(reconcile(f, NULL), 2);
	assert_string_equal(update_state(f), "updating");
	assert_string_equal(image_of(f, 5), "v2");
}

static void test_global_update_skips_a_down_node_until_it_returns(void **state)
{
	struct fixture *f = *state;
	create_service(f, "{\"Name\":\"web\",\"Mode\":{\"Global\":{}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"v1\"}}}");
	reconcile(f, NULL);
	run_on(f, tid(1), "n1");
	run_on(f, tid(2), "n2");
	add_node(f, "n2", "active", "down");
	update_service(f, "{\"Name\":\"web\",\"Mode\":{\"Global\":{}},\"UpdateConfig\":{\"Monitor\":0},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"v2\"}}}");
	assert_int_equal(reconcile(f, NULL), 3);
	assert_string_equal(store_task_node(store_task(&f->s, tid(3))), "n1");
	run_on(f, tid(3), "n1");
	assert_int_equal(reconcile(f, NULL), 1);
	assert_string_equal(update_state(f), "completed");
	assert_string_equal(desired_of(f, 2), "running");
	add_node(f, "n2", "active", "ready");
	assert_int_equal(reconcile(f, NULL), 3); /* back: its task is updated */
	assert_string_equal(update_state(f), "updating");
	assert_string_equal(desired_of(f, 2), "shutdown");
	assert_string_equal(store_task_node(store_task(&f->s, tid(4))), "n2");
}

static void test_rebalance_needs_the_runtime_on_the_target(void **state)
{
	struct fixture *f = *state;
	four_on_n1(f, "\"Runtime\":\"docker\",", "true");
	assert_int_equal(reconcile(f, NULL), 0); /* n2 offers no runtime */
	apply(f, "{\"op\":\"node.put\",\"node\":{\"ID\":\"n2\",\"Spec\":{\"Availability\":\"active\"},"
		      "\"Status\":{\"State\":\"ready\"},\"Description\":{\"OrchRuntimes\":[\"process\",\"docker\"]}}}");
	apply(f, "{\"op\":\"node.put\",\"node\":{\"ID\":\"n1\",\"Spec\":{\"Availability\":\"active\"},"
		      "\"Status\":{\"State\":\"ready\"},\"Description\":{\"OrchRuntimes\":[\"docker\"]}}}");
	assert_int_equal(reconcile(f, NULL), 2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_replicated_creates_one_task_per_slot_and_is_idempotent),
		T(test_scale_down_shuts_down_the_highest_slots),
		T(test_failed_task_restarts_after_the_delay),
		T(test_restart_condition_none_and_on_failure),
		T(test_restart_stops_after_max_attempts),
		T(test_global_runs_one_task_per_active_node),
		T(test_replicated_task_leaves_a_drained_or_down_node),
		T(test_history_is_bounded_per_slot),
		T(test_tasks_of_a_removed_service_go_once_ended),
		T(test_update_goes_by_batches_waits_for_running_and_delay),
		T(test_update_start_first_stops_the_old_task_once_the_new_runs),
		T(test_update_pauses_on_failure_with_the_task_and_its_error),
		T(test_update_failure_within_monitor_and_continue),
		T(test_update_pauses_only_above_max_failure_ratio),
		T(test_force_update_replaces_every_task),
		T(test_scaling_is_not_an_update),
		T(test_update_reconcile_is_idempotent),
		T(test_global_service_updates_node_by_node),
		T(test_rebalance_off_leaves_a_returned_node_empty),
		T(test_rebalance_moves_one_task_per_pass_until_even),
		T(test_rebalance_is_on_for_the_cluster),
		T(test_rebalance_respects_constraints_and_resources),
		T(test_rebalance_waits_for_an_update),
		T(test_update_ignores_a_failure_after_monitor),
		T(test_global_update_skips_a_down_node_until_it_returns),
		T(test_rebalance_needs_the_runtime_on_the_target),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
