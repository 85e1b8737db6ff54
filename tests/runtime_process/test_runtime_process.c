/*
 * test_runtime_process.c: end-to-end tests of the `process` runtime plugin
 * (plugins/runtime/process/). Each test is its own tiny orchd host
 * (tests/common/plugin_fixture.h): a temporary directory (data dir and
 * ipc:// sockets), events received on an nng PULL socket,
 * build/plugins/process.so dlopened, its init called with a struct
 * orch_host, requests sent with orch_sdk_client_call.
 * Tasks are real processes (orchd-shim, /bin/sleep, sh). Every wait is for
 * an event, bounded by a timeout; nothing sleeps. Teardown kills only the
 * processes recorded in the test's own data dir (checked by start time)
 * and removes the directory, also when a test failed. State: one struct
 * test_host per test, owned by cmocka's setup/teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin_fixture.h"
#include "process_store.h"

#define WAIT_MS 10000

struct test_host {
	struct plugin_fixture f; /* f.root: the test's directory */
	char data_dir[PATH_MAX]; /* <root>/data, the plugin's */
};

/* ---------------------------------------------------------------- host */

/* Loads and starts the plugin; returns init's result. */
static int host_load(struct test_host *h, const char *config)
{
	char err[512] = "";

	fixture_load(&h->f, ORCHD_TEST_PLUGIN, ORCH_PLUGIN_RUNTIME);
	if (fixture_init(&h->f, config, err, sizeof(err)) != 0) {
		fprintf(stderr, "init: %s\n", err);
		fixture_unload(&h->f);
		return -1;
	}
	return 0;
}

static json_t *wait_status(struct test_host *h, const char *task_id,
			   const char *state)
{
	return fixture_wait(&h->f, task_id, state, WAIT_MS);
}

/* ------------------------------------------------------- setup/cleanup */

static int host_setup(void **state)
{
	struct test_host *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	fixture_open(&h->f, "rtp");
	snprintf(h->data_dir, sizeof(h->data_dir), "%s/data", h->f.root);
	assert_int_equal(mkdir(h->data_dir, 0755), 0);
	h->f.host.data_dir = h->data_dir;
	*state = h;
	return 0;
}

/* Kills what a task directory records (only if the start times match)
 * and waits for its shim to go. */
static void cleanup_task(const char *dir)
{
	struct proc_pid_record task, shim;
	int shim_fd = -1;
	if (proc_store_read_pid(dir, PROC_FILE_SHIM_PID, &shim) == 0) {
		shim_fd = pidfd_open(shim.pid, 0);
		if (shim_fd >= 0 && !proc_pid_alive(&shim)) {
			close(shim_fd);
			shim_fd = -1;
		}
	}
	if (proc_store_read_pid(dir, PROC_FILE_TASK_PID, &task) == 0 &&
	    proc_pid_alive(&task))
		kill(-task.pid, SIGKILL);
	if (shim_fd >= 0) {
		struct pollfd pfd = { .fd = shim_fd, .events = POLLIN };
		poll(&pfd, 1, WAIT_MS);
		close(shim_fd);
	}
}

static void cleanup_tasks(const char *data_dir)
{
	char tasks_dir[PATH_MAX];
	snprintf(tasks_dir, sizeof(tasks_dir), "%s/tasks", data_dir);
	DIR *dir = opendir(tasks_dir);
	if (dir == NULL)
		return;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		char path[PATH_MAX * 2];
		snprintf(path, sizeof(path), "%s/%s", tasks_dir, entry->d_name);
		cleanup_task(path);
	}
	closedir(dir);
}

static int host_teardown(void **state)
{
	struct test_host *h = *state;

	fixture_unload(&h->f);
	cleanup_tasks(h->data_dir);
	fixture_close(&h->f);
	free(h);
	return 0;
}

/* ------------------------------------------------------------- helpers */

/* {"id":id,"image":image,"args":[args...]} (NULL-terminated varargs). */
static json_t *rtask(const char *id, const char *image, ...)
{
	json_t *args = json_array();
	va_list ap;
	va_start(ap, image);
	const char *arg;
	while ((arg = va_arg(ap, const char *)) != NULL)
		json_array_append_new(args, json_string(arg));
	va_end(ap);
	return json_pack("{s:s, s:s, s:s, s:i, s:s, s:o}", "id", id,
			 "service_id", "svc", "service_name", "web", "slot", 1,
			 "image", image, "args", args);
}

static json_t *start_request(json_t *tasks)
{
	return json_pack("{s:i, s:s, s:o}", "v", 1, "op", "start", "tasks",
			 tasks);
}

/* Starts the tasks; asserts that `expect_accepted` of them were taken. */
static json_t *start_tasks(struct test_host *h, json_t *tasks,
			   size_t expect_accepted)
{
	json_t *reply = fixture_call(&h->f, start_request(tasks));
	assert_null(json_object_get(reply, "error"));
	json_t *errors = json_object_get(reply, "errors");
	if (json_array_size(errors) > 0 && expect_accepted > 0) {
		char *text = json_dumps(errors, 0);
		fprintf(stderr, "start errors: %s\n", text);
		free(text);
	}
	assert_int_equal(json_array_size(json_object_get(reply, "accepted")),
			 expect_accepted);
	return reply;
}

static void start_one(struct test_host *h, json_t *task)
{
	json_decref(start_tasks(h, json_pack("[o]", task), 1));
}

static json_t *stop_request(const char *id, int grace_ms)
{
	return json_pack("{s:i, s:s, s:[{s:s, s:i}]}", "v", 1, "op", "stop",
			 "tasks", "task_id", id, "grace_ms", grace_ms);
}

static void stop_one(struct test_host *h, const char *id, int grace_ms)
{
	json_t *reply = fixture_call(&h->f, stop_request(id, grace_ms));
	assert_int_equal(json_array_size(json_object_get(reply, "accepted")),
			 1);
	json_decref(reply);
}

static json_t *simple_request(const char *op)
{
	return json_pack("{s:i, s:s}", "v", 1, "op", op);
}

static json_t *remove_request(const char *id)
{
	return json_pack("{s:i, s:s, s:[{s:s}]}", "v", 1, "op", "remove",
			 "tasks", "task_id", id);
}

static const char *field_str(json_t *object, const char *key)
{
	const char *value = json_string_value(json_object_get(object, key));
	assert_non_null(value);
	return value;
}

static json_int_t field_int(json_t *object, const char *key)
{
	json_t *value = json_object_get(object, key);
	assert_true(json_is_integer(value));
	return json_integer_value(value);
}

static pid_t status_pid(json_t *status)
{
	return (pid_t)atoi(field_str(status, "runtime_id"));
}

static char *logs_of(struct test_host *h, const char *id, int tail)
{
	json_t *reply = fixture_call(&h->f, json_pack("{s:i, s:s, s:s, s:i}", "v", 1,
					       "op", "logs", "task_id", id,
					       "tail", tail));
	char *data = strdup(field_str(reply, "data"));
	json_decref(reply);
	return data;
}

static size_t count_dir_entries(const char *path)
{
	DIR *dir = opendir(path);
	assert_non_null(dir);
	size_t count = 0;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL)
		count += entry->d_name[0] != '.';
	closedir(dir);
	return count;
}

static size_t task_dir_count(struct test_host *h)
{
	char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/tasks", h->data_dir);
	return count_dir_entries(path);
}

/* --------------------------------------------------------------- tests */

static void test_info_finds_shim_next_to_plugin(void **state)
{
	struct test_host *h = *state;
	assert_int_equal(host_load(h, "{}"), 0);
	json_t *reply = fixture_call(&h->f, simple_request("info"));
	assert_true(json_is_true(json_object_get(reply, "available")));
	assert_null(json_object_get(reply, "error"));
	assert_string_equal(field_str(reply, "kind"), "runtime");
	assert_string_equal(field_str(reply, "name"), "process");
	const char *shim = field_str(reply, "shim");
	assert_non_null(strstr(shim, "/bin/orchd-shim"));
	json_t *resources = json_object_get(reply, "resources");
	json_int_t cpus = field_int(resources, "nano_cpus");
	assert_true(cpus >= 1000000000 && cpus % 1000000000 == 0);
	json_int_t memory = field_int(resources, "memory_bytes");
	assert_true(memory > 0 && memory % 1024 == 0);
	assert_non_null(strstr(field_str(reply, "limits"), "not enforced"));
	json_decref(reply);
}

static void test_missing_shim_is_reported(void **state)
{
	struct test_host *h = *state;
	assert_int_equal(host_load(h, "{\"shim\":\"/nonexistent/orchd-shim\"}"),
			 0);
	json_t *reply = fixture_call(&h->f, simple_request("info"));
	assert_true(json_is_false(json_object_get(reply, "available")));
	assert_non_null(strstr(field_str(reply, "error"),
			       "/nonexistent/orchd-shim"));
	json_decref(reply);
	reply = start_tasks(h, json_pack("[o]", rtask("t1", "/bin/true", NULL)),
			    0);
	json_t *error = json_array_get(json_object_get(reply, "errors"), 0);
	assert_string_equal(field_str(error, "task_id"), "t1");
	assert_non_null(strstr(field_str(error, "error"), "orchd-shim"));
	json_decref(reply);
	assert_int_equal(task_dir_count(h), 0);
}

static void test_bad_config_fails_init(void **state)
{
	struct test_host *h = *state;
	assert_int_not_equal(host_load(h, "[1,2]"), 0);
	assert_int_not_equal(host_load(h, "{\"shim\":[\"/bin/true\"]}"), 0);
}

static void test_invalid_tasks_are_refused(void **state)
{
	struct test_host *h = *state;
	assert_int_equal(host_load(h, "{}"), 0);
	json_t *tasks = json_pack(
		"[{s:s}, {s:s}, {s:s, s:i}, {s:s, s:s}, {s:s, s:s, s:[i]},"
		" {s:s, s:s, s:[s]}, {s:s, s:s, s:[{s:s, s:s}]}, i,"
		" {s:s, s:s, s:s}, o, o]",
		"image", "/bin/true",                        /* no id */
		"id", "no-image",                            /* no image */
		"id", "int-image", "image", 5,               /* bad type */
		"id", "../escape", "image", "/bin/true",     /* bad id */
		"id", "bad-args", "image", "/bin/true", "args", 1,
		"id", "bad-env", "image", "/bin/true", "env", "NOEQUALS",
		"id", "mounts", "image", "/bin/true", "mounts", "source", "/a",
		"target", "/b",
		42,                                          /* not an object */
		"id", "bad-command", "image", "/bin/true", "command", "x",
		rtask("dup", "/bin/sleep", "1000", NULL),
		rtask("dup", "/bin/sleep", "1000", NULL));
	json_t *reply = start_tasks(h, tasks, 1);
	json_t *errors = json_object_get(reply, "errors");
	assert_int_equal(json_array_size(errors), 10);
	assert_string_equal(
		json_string_value(json_array_get(
			json_object_get(reply, "accepted"), 0)),
		"dup");
	json_t *last = json_array_get(errors, 9);
	assert_string_equal(field_str(last, "task_id"), "dup");
	assert_string_equal(field_str(last, "error"), "task already exists");
	assert_non_null(strstr(field_str(json_array_get(errors, 6), "error"),
			       "mounts"));
	json_decref(reply);
	wait_status(h, "dup", "running");
	assert_int_equal(task_dir_count(h), 1);

	reply = fixture_call(&h->f, json_pack("{s:i, s:s, s:s}", "v", 1, "op",
				       "start", "tasks", "nope"));
	assert_non_null(json_object_get(reply, "error"));
	json_decref(reply);
	reply = fixture_call(&h->f, json_pack("{s:i, s:s, s:[{s:s, s:s}]}", "v", 1,
				       "op", "stop", "tasks", "task_id", "dup",
				       "grace_ms", "soon"));
	assert_int_equal(json_array_size(json_object_get(reply, "errors")), 1);
	json_decref(reply);
	stop_one(h, "dup", 0);
	wait_status(h, "dup", "shutdown");
}

static void test_run_stop_remove(void **state)
{
	struct test_host *h = *state;
	assert_int_equal(host_load(h, "{}"), 0);
	start_one(h, rtask("web", "/bin/sleep", "1000", NULL));
	wait_status(h, "web", "preparing");
	wait_status(h, "web", "starting");
	pid_t pid = status_pid(wait_status(h, "web", "running"));
	assert_true(pid > 0);
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal(getpgid(pid), pid);      /* own process group */
	assert_int_not_equal(getsid(pid), getsid(0)); /* detached */

	json_t *list = fixture_call(&h->f, simple_request("list"));
	json_t *status = fixture_listed(list, "web");
	assert_non_null(status);
	assert_string_equal(field_str(status, "state"), "running");
	assert_int_equal(status_pid(status), pid);
	json_decref(list);

	json_t *reply = fixture_call(&h->f, remove_request("web"));
	assert_int_equal(json_array_size(json_object_get(reply, "errors")), 1);
	json_decref(reply);

	/* The grace is far longer than the wait: SIGTERM alone ends it. */
	stop_one(h, "web", 60000);
	status = wait_status(h, "web", "shutdown");
	assert_int_equal(field_int(status, "exit_code"), 128 + SIGTERM);

	reply = fixture_call(&h->f, remove_request("web"));
	assert_int_equal(json_array_size(json_object_get(reply, "removed")), 1);
	json_decref(reply);
	assert_int_equal(task_dir_count(h), 0);
	list = fixture_call(&h->f, simple_request("list"));
	assert_int_equal(json_array_size(json_object_get(list, "tasks")), 0);
	json_decref(list);
}

/* Starts a task that ignores SIGTERM, and waits until it does: "running"
 * only means exec succeeded, so the shell tells through a FIFO once its
 * trap is set. grace_ms > 0 sets the task's stop_grace_ms. */
static void start_stubborn_grace(struct test_host *h, const char *id,
				 int grace_ms)
{
	char fifo[PATH_MAX], script[PATH_MAX + 64];
	snprintf(fifo, sizeof(fifo), "%s/%s.ready", h->f.root, id);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	int fd = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(fd >= 0);
	snprintf(script, sizeof(script),
		 "trap '' TERM; echo ready > %s; exec sleep 100", fifo);
	json_t *task = rtask(id, "sh", "-c", script, NULL);
	if (grace_ms > 0)
		json_object_set_new(task, "stop_grace_ms",
				    json_integer(grace_ms));
	start_one(h, task);
	wait_status(h, id, "running");
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	close(fd);
}

static void start_stubborn(struct test_host *h, const char *id)
{
	start_stubborn_grace(h, id, 0);
}

static void test_stop_escalates_to_sigkill(void **state)
{
	struct test_host *h = *state;
	assert_int_equal(host_load(h, "{}"), 0);
	start_stubborn(h, "stubborn");
	stop_one(h, "stubborn", 200);
	json_t *status = wait_status(h, "stubborn", "shutdown");
	assert_int_equal(field_int(status, "exit_code"), 128 + SIGKILL);
}

static void test_exit_codes(void **state)
{
	struct test_host *h = *state;
	assert_int_equal(host_load(h, "{}"), 0);
	json_decref(start_tasks(
		h,
		json_pack("[o, o, o]", rtask("three", "sh", "-c", "exit 3", NULL),
			  rtask("zero", "/bin/true", NULL),
			  rtask("signal", "sh", "-c", "kill -KILL $$", NULL)),
		3));
	json_t *status = wait_status(h, "three", "failed");
	assert_int_equal(field_int(status, "exit_code"), 3);
	assert_string_equal(field_str(status, "error"),
			    "task: non-zero exit (3)");
	status = wait_status(h, "zero", "complete");
	assert_int_equal(field_int(status, "exit_code"), 0);
	status = wait_status(h, "signal", "failed");
	assert_int_equal(field_int(status, "exit_code"), 128 + SIGKILL);
	assert_non_null(strstr(field_str(status, "error"), "signal 9"));

	/* Every state came, in order. */
	static const char *const order[] = { "preparing", "starting",
					     "running", "failed" };
	size_t next = 0, i;
	json_t *seen;
	json_array_foreach(h->f.seen, i, seen) {
		if (strcmp(field_str(seen, "task_id"), "three") == 0 &&
		    next < 4 &&
		    strcmp(field_str(seen, "state"), order[next]) == 0)
			next++;
	}
	assert_int_equal(next, 4);

	json_t *list = fixture_call(&h->f, simple_request("list"));
	assert_int_equal(field_int(fixture_listed(list, "three"), "exit_code"), 3);
	json_decref(list);
}

static void test_unknown_programs_are_rejected(void **state)
{
	struct test_host *h = *state;
	assert_int_equal(host_load(h, "{}"), 0);
	char not_exec[PATH_MAX];
	snprintf(not_exec, sizeof(not_exec), "%s/not-executable", h->f.root);
	int fd = open(not_exec, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	json_decref(start_tasks(
		h,
		json_pack("[o, o, o, o, o]",
			  rtask("unknown", "orchd-no-such-program", NULL),
			  rtask("missing", "/nonexistent/program", NULL),
			  rtask("noexec", not_exec, NULL),
			  rtask("dir", "/tmp", NULL),
			  rtask("relative", "bin/sleep", NULL)),
		5));
	static const struct {
		const char *id, *error;
	} rejected[] = {
		{"unknown", "executable file not found in $PATH"},
		{"missing", "No such file or directory"},
		{"noexec", "Permission denied"},
		{"dir", "Is a directory"},
		{"relative", "absolute"},
	};
	for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
		const char *error = field_str(
			wait_status(h, rejected[i].id, "rejected"), "error");

		if (strstr(error, rejected[i].error) == NULL)
			fail_msg("%s: error \"%s\" lacks \"%s\"",
				 rejected[i].id, error, rejected[i].error);
	}
	assert_null(fixture_seen(&h->f, "unknown", "starting"));
	json_t *list = fixture_call(&h->f, simple_request("list"));
	assert_string_equal(field_str(fixture_listed(list, "unknown"), "state"),
			    "rejected");
	json_decref(list);
}

static void test_logs_and_environment(void **state)
{
	struct test_host *h = *state;
	assert_int_equal(host_load(h, "{}"), 0);
	json_t *task = rtask("talk", "sh", "-c",
			     "echo out; echo err >&2; echo \"foo=$FOO\";"
			     " echo \"path=$PATH\"; printf 'bad\\377\\n';"
			     " printf 'a\\nb\\nc\\n'",
			     NULL);
	json_object_set_new(task, "env", json_pack("[s]", "FOO=bar"));
	start_one(h, task);
	wait_status(h, "talk", "complete");
	char *all = logs_of(h, "talk", 0);
	assert_non_null(strstr(all, "out\nerr\nfoo=bar\n"));
	assert_non_null(strstr(all, "path=/usr/local/sbin:/usr/local/bin:"
				    "/usr/sbin:/usr/bin:/sbin:/bin\n"));
	assert_non_null(strstr(all, "bad?\n"));
	free(all);
	char *tail = logs_of(h, "talk", 2);
	assert_string_equal(tail, "b\nc\n");
	free(tail);
	json_t *reply = fixture_call(&h->f, json_pack("{s:i, s:s, s:s}", "v", 1, "op",
					       "logs", "task_id", "nobody"));
	assert_non_null(json_object_get(reply, "error"));
	json_decref(reply);
}

#define BATCH 20

static void test_batch_of_twenty(void **state)
{
	struct test_host *h = *state;
	assert_int_equal(host_load(h, "{}"), 0);
	json_t *tasks = json_array(), *stops = json_array(),
	       *removes = json_array();
	char id[32];
	for (int i = 0; i < BATCH; i++) {
		snprintf(id, sizeof(id), "batch-%02d", i);
		json_array_append_new(tasks, rtask(id, "sleep", "1000", NULL));
		json_array_append_new(stops, json_pack("{s:s, s:i}", "task_id",
						       id, "grace_ms", 30000));
		json_array_append_new(removes, json_pack("{s:s}", "task_id",
							 id));
	}
	json_decref(start_tasks(h, tasks, BATCH));
	for (int i = 0; i < BATCH; i++) {
		snprintf(id, sizeof(id), "batch-%02d", i);
		wait_status(h, id, "running");
	}
	json_t *list = fixture_call(&h->f, simple_request("list"));
	assert_int_equal(json_array_size(json_object_get(list, "tasks")), BATCH);
	json_decref(list);
	json_t *reply = fixture_call(&h->f, json_pack("{s:i, s:s, s:o}", "v", 1, "op",
					       "stop", "tasks", stops));
	assert_int_equal(json_array_size(json_object_get(reply, "accepted")),
			 BATCH);
	json_decref(reply);
	for (int i = 0; i < BATCH; i++) {
		snprintf(id, sizeof(id), "batch-%02d", i);
		wait_status(h, id, "shutdown");
	}
	reply = fixture_call(&h->f, json_pack("{s:i, s:s, s:o}", "v", 1, "op",
				       "remove", "tasks", removes));
	assert_int_equal(json_array_size(json_object_get(reply, "removed")),
			 BATCH);
	json_decref(reply);
	assert_int_equal(task_dir_count(h), 0);
}

/* Waits until the shim recorded in a task directory has exited. */
static void wait_shim_exit(struct test_host *h, const char *id)
{
	char dir[PATH_MAX * 2];
	snprintf(dir, sizeof(dir), "%s/tasks/%s", h->data_dir, id);
	struct proc_pid_record shim;
	assert_int_equal(proc_store_read_pid(dir, PROC_FILE_SHIM_PID, &shim),
			 0);
	int fd = pidfd_open(shim.pid, 0);
	if (fd < 0)
		return; /* already gone */
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	close(fd);
}

static void test_restart_survival(void **state)
{
	struct test_host *h = *state;
	char fifo[PATH_MAX], script[PATH_MAX + 64];
	snprintf(fifo, sizeof(fifo), "%s/go", h->f.root);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(script, sizeof(script), "read line < %s; exit 5", fifo);

	assert_int_equal(host_load(h, "{}"), 0);
	json_decref(start_tasks(
		h,
		json_pack("[o, o]", rtask("survivor", "/bin/sleep", "1000", NULL),
			  rtask("ender", "sh", "-c", script, NULL)),
		2));
	pid_t survivor = status_pid(wait_status(h, "survivor", "running"));
	wait_status(h, "ender", "running");
	fixture_unload(&h->f);

	/* No plugin loaded: the survivor runs on, the ender ends. */
	assert_int_equal(kill(survivor, 0), 0);
	int fd = open(fifo, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "go\n", 3), 3);
	wait_shim_exit(h, "ender");
	close(fd);
	assert_int_equal(kill(survivor, 0), 0);

	assert_int_equal(host_load(h, "{}"), 0);
	json_t *list = fixture_call(&h->f, simple_request("list"));
	json_t *status = fixture_listed(list, "survivor");
	assert_string_equal(field_str(status, "state"), "running");
	assert_int_equal(status_pid(status), survivor);
	status = fixture_listed(list, "ender");
	assert_string_equal(field_str(status, "state"), "failed");
	assert_int_equal(field_int(status, "exit_code"), 5);
	json_decref(list);

	stop_one(h, "survivor", 60000);
	status = wait_status(h, "survivor", "shutdown");
	assert_int_equal(status_pid(status), survivor);
}

static void test_pending_sigkill_survives_restart(void **state)
{
	struct test_host *h = *state;
	assert_int_equal(host_load(h, "{}"), 0);
	start_stubborn(h, "stubborn");
	stop_one(h, "stubborn", 300);
	fixture_unload(&h->f);
	assert_int_equal(host_load(h, "{}"), 0);
	json_t *status = wait_status(h, "stubborn", "shutdown");
	assert_int_equal(field_int(status, "exit_code"), 128 + SIGKILL);
}

/* The shim and the task recorded in a task directory, each with a pidfd
 * that becomes readable when the process ends. */
struct watched_task {
	struct proc_pid_record shim, task;
	int shim_fd, task_fd;
};

static void watch_task(struct test_host *h, const char *id,
		       struct watched_task *w)
{
	char dir[PATH_MAX * 2];
	snprintf(dir, sizeof(dir), "%s/tasks/%s", h->data_dir, id);
	assert_int_equal(proc_store_read_pid(dir, PROC_FILE_SHIM_PID, &w->shim),
			 0);
	assert_int_equal(proc_store_read_pid(dir, PROC_FILE_TASK_PID, &w->task),
			 0);
	w->shim_fd = pidfd_open(w->shim.pid, 0);
	w->task_fd = pidfd_open(w->task.pid, 0);
	assert_true(w->shim_fd >= 0);
	assert_true(w->task_fd >= 0);
	assert_true(proc_pid_alive(&w->shim));
	assert_true(proc_pid_alive(&w->task));
}

/* True when the process behind fd ended within WAIT_MS. On failure the
 * process group is killed, so that nothing outlives the test. */
static bool ended_in_time(int fd, const struct proc_pid_record *record)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	bool ended = poll(&pfd, 1, WAIT_MS) == 1;
	if (!ended && proc_pid_alive(record))
		kill(-record->pid, SIGKILL);
	close(fd);
	return ended;
}

/* orchd is gone and so is the task directory (the node's data root was
 * wiped): the shim stops its task (SIGTERM; SIGKILL after the task's grace
 * for one that ignores SIGTERM) and exits. */
static void test_shim_stops_task_when_its_dir_is_removed(void **state)
{
	struct test_host *h = *state;
	assert_int_equal(host_load(h, "{}"), 0);
	start_one(h, rtask("plain", "/bin/sleep", "1000", NULL));
	wait_status(h, "plain", "running");
	start_stubborn_grace(h, "stubborn", 300);
	struct watched_task plain, stubborn;
	watch_task(h, "plain", &plain);
	watch_task(h, "stubborn", &stubborn);
	fixture_unload(&h->f);

	char tasks_dir[PATH_MAX + 8];
	snprintf(tasks_dir, sizeof(tasks_dir), "%s/tasks", h->data_dir);
	assert_int_equal(test_tmpdir_remove(tasks_dir), 0);
	bool plain_task = ended_in_time(plain.task_fd, &plain.task);
	bool plain_shim = ended_in_time(plain.shim_fd, &plain.shim);
	bool stubborn_task = ended_in_time(stubborn.task_fd, &stubborn.task);
	bool stubborn_shim = ended_in_time(stubborn.shim_fd, &stubborn.shim);
	assert_true(plain_task);
	assert_true(plain_shim);
	assert_true(stubborn_task);
	assert_true(stubborn_shim);
	assert_false(proc_pid_alive(&plain.task));
	assert_false(proc_pid_alive(&stubborn.task));
}

#define HOST_TEST(fn) cmocka_unit_test_setup_teardown(fn, host_setup, host_teardown)

int main(void)
{
	unsetenv("ORCHD_SHIM"); /* exercise the path next to the plugin */
	const struct CMUnitTest tests[] = {
		HOST_TEST(test_info_finds_shim_next_to_plugin),
		HOST_TEST(test_missing_shim_is_reported),
		HOST_TEST(test_bad_config_fails_init),
		HOST_TEST(test_invalid_tasks_are_refused),
		HOST_TEST(test_run_stop_remove),
		HOST_TEST(test_stop_escalates_to_sigkill),
		HOST_TEST(test_exit_codes),
		HOST_TEST(test_unknown_programs_are_rejected),
		HOST_TEST(test_logs_and_environment),
		HOST_TEST(test_batch_of_twenty),
		HOST_TEST(test_restart_survival),
		HOST_TEST(test_pending_sigkill_survives_restart),
		HOST_TEST(test_shim_stops_task_when_its_dir_is_removed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
