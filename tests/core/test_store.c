/*
 * test_store.c: the store's commands (core/store.c): what each one changes,
 * and what it refuses. Owns only its test fixtures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* Applies the command in json_text at index; its error text, if any, in err. */
static int apply_or_say(struct store *s, const char *json_text, uint64_t index,
			char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *cmd = json_loads(json_text, 0, &jerr);
	assert_non_null(cmd);
	int rc = store_apply(s, cmd, index, err, errlen);
	json_decref(cmd);
	return rc;
}

static int apply(struct store *s, const char *json_text, uint64_t index)
{
	char err[256];
	return apply_or_say(s, json_text, index, err, sizeof(err));
}

static void make_service(struct store *s)
{
	assert_int_equal(apply(s, "{\"op\":\"service.create\",\"service\":{\"ID\":\"svc1\",\"Spec\":{\"Name\":\"web\"}}}", 1), 0);
	assert_int_equal(apply(s, "{\"op\":\"task.create\",\"tasks\":[{\"ID\":\"t1\",\"ServiceID\":\"svc1\",\"Slot\":1,\"DesiredState\":\"running\",\"Status\":{\"State\":\"new\"}}]}", 2), 0);
}

static int setup_empty(void **state)
{
	struct store *s = malloc(sizeof(*s));
	if (!s)
		return -1;
	store_init(s);
	*state = s;
	return 0;
}

/* A store with service svc1 (index 1) and its task t1, new (index 2). */
static int setup_with_service(void **state)
{
	if (setup_empty(state) != 0)
		return -1;
	make_service(*state);
	return 0;
}

static int teardown(void **state)
{
	store_fini(*state);
	free(*state);
	return 0;
}

static void test_cluster_init_only_once(void **state)
{
	struct store *s = *state;
	const char *init = "{\"op\":\"cluster.init\",\"cluster\":{\"ID\":\"c\"},\"node\":{\"ID\":\"n1\"}}";
	assert_int_equal(apply(s, init, 1), 0);
	assert_non_null(store_node(s, "n1"));
	assert_int_equal(apply(s, init, 2), -1);
}

static void test_service_names_are_unique(void **state)
{
	struct store *s = *state;
	assert_int_equal(apply(s, "{\"op\":\"service.create\",\"service\":{\"ID\":\"svc2\",\"Spec\":{\"Name\":\"web\"}}}", 3), -1);
	assert_null(store_service(s, "svc2"));
	assert_ptr_equal(store_service_find(s, "web"), store_service(s, "svc1"));
	assert_ptr_equal(store_service_find(s, "svc"), store_service(s, "svc1"));
}

static void test_service_update_checks_version(void **state)
{
	struct store *s = *state;
	assert_int_equal(apply(s, "{\"op\":\"service.update\",\"id\":\"svc1\",\"version\":7,\"spec\":{\"Name\":\"web\"}}", 3), -1);
	assert_int_equal(apply(s, "{\"op\":\"service.update\",\"id\":\"svc1\",\"version\":1,\"spec\":{\"Name\":\"web\",\"Labels\":{\"a\":\"b\"}}}", 3), 0);
	json_t *svc = store_service(s, "svc1");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(svc, "Version"), "Index")), 3);
	assert_non_null(json_object_get(svc, "PreviousSpec"));
}

static void test_task_states_only_move_forward(void **state)
{
	struct store *s = *state;
	assert_int_equal(apply(s, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"t1\",\"state\":\"running\",\"now\":\"x\"}]}", 3), 0);
	assert_int_equal(store_task_state(store_task(s, "t1")), TASK_RUNNING);
	apply(s, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"t1\",\"state\":\"preparing\",\"now\":\"x\"}]}", 4);
	assert_int_equal(store_task_state(store_task(s, "t1")), TASK_RUNNING);
	apply(s, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"t1\",\"state\":\"failed\",\"now\":\"x\",\"err\":\"boom\",\"exit_code\":3}]}", 5);
	apply(s, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"t1\",\"state\":\"orphaned\",\"now\":\"x\"}]}", 6);
	json_t *t = store_task(s, "t1");
	assert_int_equal(store_task_state(t), TASK_FAILED);
	assert_string_equal(json_string_value(json_object_get(json_object_get(t, "Status"), "Err")), "boom");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(t, "Status"), "ContainerStatus"), "ExitCode")), 3);
}

static void test_assign_only_pending_tasks(void **state)
{
	struct store *s = *state;
	apply(s, "{\"op\":\"task.assign\",\"now\":\"x\",\"assignments\":[{\"id\":\"t1\",\"node\":\"n1\"}]}", 3);
	assert_null(store_task_node(store_task(s, "t1")));
	apply(s, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"t1\",\"state\":\"pending\",\"now\":\"x\"}]}", 4);
	apply(s, "{\"op\":\"task.assign\",\"now\":\"x\",\"assignments\":[{\"id\":\"t1\",\"node\":\"n1\"}]}", 5);
	assert_string_equal(store_task_node(store_task(s, "t1")), "n1");
	assert_int_equal(store_task_state(store_task(s, "t1")), TASK_ASSIGNED);
}

static void test_service_remove_marks_tasks_for_removal(void **state)
{
	struct store *s = *state;
	assert_int_equal(apply(s, "{\"op\":\"service.remove\",\"id\":\"svc1\"}", 3), 0);
	assert_null(store_service(s, "svc1"));
	assert_string_equal(store_task_desired(store_task(s, "t1")), "remove");
	assert_int_equal(apply(s, "{\"op\":\"service.remove\",\"id\":\"svc1\"}", 4), -1);
	/* desired state never goes back */
	apply(s, "{\"op\":\"task.desired\",\"updates\":[{\"id\":\"t1\",\"desired\":\"running\"}]}", 5);
	assert_string_equal(store_task_desired(store_task(s, "t1")), "remove");
}

static void test_dump_and_load_round_trip(void **state)
{
	struct store *s = *state;
	struct store t;
	store_init(&t);
	char *text = store_dump(s);
	char err[256];
	assert_int_equal(store_load(&t, text, strlen(text), err, sizeof(err)), 0);
	char *again = store_dump(&t);
	assert_string_equal(text, again);
	assert_int_equal(t.applied_index, 2);
	assert_int_equal(store_load(&t, "{nope", 5, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not JSON"));
	free(text);
	free(again);
	store_fini(&t);
}

static void test_cluster_update_checks_version_and_node_remove(void **state)
{
	struct store *s = *state;
	assert_int_equal(apply(s, "{\"op\":\"cluster.update\",\"version\":1,\"spec\":{}}", 1), -1);
	assert_int_equal(apply(s, "{\"op\":\"cluster.init\",\"cluster\":{\"ID\":\"c\"},\"node\":{\"ID\":\"n1\"}}", 1), 0);
	assert_int_equal(apply(s, "{\"op\":\"cluster.update\",\"version\":9,\"spec\":{}}", 2), -1);
	assert_int_equal(apply(s, "{\"op\":\"cluster.update\",\"version\":1,\"spec\":{\"Orchestration\":{\"TaskHistoryRetentionLimit\":2}}}", 2), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(s->cluster, "Version"), "Index")), 2);
	assert_int_equal(apply(s, "{\"op\":\"node.remove\",\"id\":\"n1\"}", 3), 0);
	assert_null(store_node(s, "n1"));
	assert_int_equal(apply(s, "{\"op\":\"node.remove\",\"id\":\"n1\"}", 4), -1);
}

static void test_unknown_command_is_refused(void **state)
{
	struct store *s = *state;
	assert_int_equal(apply(s, "{\"op\":\"nope\"}", 1), -1);
}

static void test_service_update_status_keeps_version_and_update_clears_it(void **state)
{
	struct store *s = *state;
	assert_int_equal(apply(s, "{\"op\":\"service.update_status\",\"id\":\"svc1\",\"status\":{\"State\":\"updating\",\"StartedAt\":\"2026-11-27T08:00:00Z\",\"Message\":\"update in progress\"}}", 3), 0);
	json_t *svc = store_service(s, "svc1");
	json_t *status = json_object_get(svc, "UpdateStatus");
	assert_string_equal(json_string_value(json_object_get(status, "State")), "updating");
	assert_string_equal(json_string_value(json_object_get(status, "StartedAt")), "2026-11-27T08:00:00Z");
	/* the version a client just read still works */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(svc, "Version"), "Index")), 1);
	assert_int_equal(apply(s, "{\"op\":\"service.update\",\"id\":\"svc1\",\"version\":1,\"spec\":{\"Name\":\"web\",\"Labels\":{\"a\":\"b\"}}}", 4), 0);
	assert_null(json_object_get(store_service(s, "svc1"), "UpdateStatus"));
}

static void test_service_update_status_refuses_bad_commands(void **state)
{
	struct store *s = *state;
	char err[256];
	assert_int_equal(apply_or_say(s, "{\"op\":\"service.update_status\",\"id\":\"nope\",\"status\":{\"State\":\"paused\"}}", 3, err, sizeof(err)), -1);
	assert_string_equal(err, "service nope not found");
	assert_int_equal(apply_or_say(s, "{\"op\":\"service.update_status\",\"id\":\"svc1\",\"status\":{\"Message\":\"x\"}}", 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "State required"));
	assert_null(json_object_get(store_service(s, "svc1"), "UpdateStatus"));
}

static void test_running_time_is_kept(void **state)
{
	struct store *s = *state;
	apply(s, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"t1\",\"state\":\"starting\",\"now\":\"T1\"}]}", 3);
	assert_null(json_object_get(store_task(s, "t1"), "OrchRunningAt"));
	apply(s, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"t1\",\"state\":\"running\",\"now\":\"T2\"}]}", 4);
	apply(s, "{\"op\":\"task.status\",\"updates\":[{\"id\":\"t1\",\"state\":\"failed\",\"now\":\"T3\"}]}", 5);
	json_t *t = store_task(s, "t1");
	assert_string_equal(json_string_value(json_object_get(t, "OrchRunningAt")), "T2");
	assert_string_equal(json_string_value(json_object_get(json_object_get(t, "Status"), "Timestamp")), "T3");
}

#define EMPTY(fn) cmocka_unit_test_setup_teardown(fn, setup_empty, teardown)
#define WITH_SERVICE(fn) cmocka_unit_test_setup_teardown(fn, setup_with_service, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		EMPTY(test_cluster_init_only_once),
		WITH_SERVICE(test_service_names_are_unique),
		WITH_SERVICE(test_service_update_checks_version),
		WITH_SERVICE(test_task_states_only_move_forward),
		WITH_SERVICE(test_assign_only_pending_tasks),
		WITH_SERVICE(test_service_remove_marks_tasks_for_removal),
		WITH_SERVICE(test_dump_and_load_round_trip),
		EMPTY(test_cluster_update_checks_version_and_node_remove),
		EMPTY(test_unknown_command_is_refused),
		WITH_SERVICE(test_service_update_status_keeps_version_and_update_clears_it),
		WITH_SERVICE(test_service_update_status_refuses_bad_commands),
		WITH_SERVICE(test_running_time_is_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
