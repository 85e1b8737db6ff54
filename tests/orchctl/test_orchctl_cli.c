/*
 * test_orchctl_cli.c: end-to-end tests of the built orchctl binary.
 *
 * The test runs a fake orchd: the real HTTP server of core/api_http.c on a
 * unix socket in a temporary directory, with a handler answering canned
 * Docker-API JSON (two nodes, a replicated service "web" with task history,
 * a global service "agent", a swarm with join tokens) and recording every
 * request. Each test spawns
 * orchctl with stdout/stderr in files and checks the printed columns, the
 * requests sent (paths, query parameters, JSON bodies), exit codes, and that
 * invalid input is refused before anything is sent.
 * ORCHCTL_TEST_NOW pins orchctl's clock so task ages are deterministic.
 * State: the fixture of the running test (directory, server, records).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_http.h"

#define TEST_NOW "1714557600" /* 2024-05-01T10:00:00Z */
#define MAX_RECORDS 64

#define WEB_ID "wb1234567890abcdefghijklm"
#define AGENT_ID "ag1234567890abcdefghijklm"
#define NEW_ID "nw1234567890abcdefghijklm"
#define NODE1 "n1aaaaaaaaaaaaaaaaaaaaaaa"
#define NODE2 "n2bbbbbbbbbbbbbbbbbbbbbbb"
#define DIGEST "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcd"
#define WORKER_TOKEN "SWMTKN-1-" DIGEST "-worker0000000000000000001"
#define WORKER_TOKEN2 "SWMTKN-1-" DIGEST "-worker0000000000000000002"
#define MANAGER_TOKEN "SWMTKN-1-" DIGEST "-manager000000000000000001"
#define MANAGER_TOKEN2 "SWMTKN-1-" DIGEST "-manager000000000000000002"
#define REFUSED_TOKEN "SWMTKN-1-" DIGEST "-refused000000000000000000"

struct record {
	char method[16];
	char path[256];
	char filters[512];
	char version[32];
	char query[512]; /* the raw query string, as sent */
	char body[4096];
	int api_minor;
};

struct fixture {
	char dir[64];
	char sock[128];
	char host[160];
	struct api_http_server *server;
	pthread_mutex_t lock;
	struct record records[MAX_RECORDS];
	size_t record_count;
	bool info_worker;    /* /info: ControlAvailable false */
	bool rotated_worker; /* /swarm: tokens after a rotation */
	bool rotated_manager;
	/* UpdateStatus of "api" (NEW_ID): before and after an update is
     * posted; NULL for none. */
	const char *status_before;
	const char *status_after;
	bool update_posted;
	json_t *api_spec; /* the Spec last posted for "api", served back */
	char *out;
	char *err;
};

/* ------------------------------------------------------------------ */
/* Canned daemon state                                                 */

static json_t *fake_service(const char *id, const char *name, bool global)
{
	json_t *mode = global ? json_pack("{s:{}}", "Global")
			      : json_pack("{s:{s:i}}", "Replicated", "Replicas",
					  strcmp(id, NEW_ID) == 0 ? 2 : 3);
	json_t *s = json_pack(
		"{s:s, s:{s:i}, s:s, s:s, s:{s:s, s:{s:{s:s}}, s:o}}", "ID", id,
		"Version", "Index", 42, "CreatedAt", "2024-05-01T09:00:00Z",
		"UpdatedAt", "2024-05-01T09:00:00Z", "Spec", "Name", name,
		"TaskTemplate", "ContainerSpec", "Image",
		global ? "orchd/agent:2" : "nginx:1.25@sha256:abc", "Mode", mode);
	if (strcmp(id, WEB_ID) == 0) {
		json_object_set_new(s, "Endpoint",
				    json_pack("{s:[{s:s, s:i, s:i}]}", "Ports",
					      "Protocol", "tcp", "TargetPort",
					      80, "PublishedPort", 8080));
		json_object_set_new(
			json_object_get(s, "Spec"), "UpdateConfig",
			json_pack("{s:i, s:I, s:s, s:I, s:f, s:s}", "Parallelism",
				  2, "Delay", (json_int_t)10000000000LL,
				  "FailureAction", "continue", "Monitor",
				  (json_int_t)30000000000LL, "MaxFailureRatio",
				  0.25, "Order", "start-first"));
		json_object_set_new(json_object_get(s, "Spec"), "OrchRebalance",
				    json_true());
		json_object_set_new(json_object_get(json_object_get(s, "Spec"),
						    "TaskTemplate"),
				    "ForceUpdate", json_integer(4));
		json_object_set_new(s, "UpdateStatus",
				    json_pack("{s:s, s:s, s:s, s:s}", "State",
					      "completed", "StartedAt",
					      "2024-05-01T09:50:00Z", "CompletedAt",
					      "2024-05-01T09:55:00.5Z",
					      "Message", "update completed"));
	}
	return s;
}

static json_t *fake_task(const char *id, const char *service, int slot,
			 const char *node, const char *desired,
			 const char *state, const char *when, const char *err)
{
	return json_pack(
		"{s:s, s:{s:i}, s:s, s:s, s:i, s:s, s:s, s:{s:s, s:s, s:s}, "
		"s:{s:{s:s}}}",
		"ID", id, "Version", "Index", 10, "CreatedAt", when, "ServiceID",
		service, "Slot", slot, "NodeID", node, "DesiredState", desired,
		"Status", "State", state, "Timestamp", when, "Err", err, "Spec",
		"ContainerSpec", "Image", "nginx:1.25@sha256:abc");
}

/* A task list filter: absent allows all; {"value":true} allows those. The
 * fake insists on one of service or node, like the callers it tests. */
static bool fake_filter_allows(json_t *filters, const char *key, const char *value)
{
	json_t *wanted = json_object_get(filters, key);
	if (wanted == NULL)
		return (strcmp(key, "service") != 0 && strcmp(key, "node") != 0) ||
		       json_object_get(filters, strcmp(key, "node") == 0
							? "service"
							: "node") != NULL;
	return json_is_true(json_object_get(wanted, value));
}

static json_t *fake_tasks(json_t *filters)
{
	json_t *all = json_array();
	json_array_append_new(all, fake_task("t1aaaaaaaaaaaaaaaaaaaaaaa", WEB_ID,
					     1, NODE1, "running", "running",
					     "2024-05-01T09:58:00Z", ""));
	json_array_append_new(all, fake_task("t2aaaaaaaaaaaaaaaaaaaaaaa", WEB_ID,
					     2, NODE2, "running", "running",
					     "2024-05-01T09:59:30.5Z", ""));
	json_array_append_new(
		all, fake_task("t2old00000000000000000000", WEB_ID, 2, NODE2,
			       "shutdown", "failed", "2024-05-01T07:00:00Z",
			       "No such image: nginx:nope-not-here"));
	json_array_append_new(all, fake_task("t3aaaaaaaaaaaaaaaaaaaaaaa",
					     WEB_ID, 3, "", "running", "pending",
					     "2024-05-01T09:59:59Z", ""));
	json_array_append_new(all, fake_task("n1task000000000000000000a", NEW_ID,
					     1, NODE1, "running", "running",
					     "2024-05-01T09:59:00Z", ""));
	json_array_append_new(all, fake_task("n2task000000000000000000b", NEW_ID,
					     2, NODE2, "running", "running",
					     "2024-05-01T09:59:00Z", ""));
	json_t *out = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(all, i, t) {
		const char *service = json_string_value(
			json_object_get(t, "ServiceID"));
		/* "api" is not in GET /services: its tasks carry their service's
         * name, as orchd's tasks do. */
		if (strcmp(service, NEW_ID) == 0)
			json_object_set_new(t, "ServiceName", json_string("api"));
		if (fake_filter_allows(filters, "service", service) &&
		    fake_filter_allows(filters, "node",
				       json_string_value(json_object_get(t, "NodeID"))) &&
		    fake_filter_allows(
			    filters, "desired-state",
			    json_string_value(json_object_get(t, "DesiredState"))))
			json_array_append(out, t);
	}
	json_decref(all);
	return out;
}

static json_t *fake_nodes(void)
{
	return json_pack(
		"[{s:s, s:{s:i}, s:{s:s, s:s, s:{s:s, s:s, s:s}}, s:{s:s, s:{s:s}}, s:{s:s, s:s},"
		"  s:{s:b, s:s, s:s}},"
		" {s:s, s:{s:i}, s:{s:s, s:s}, s:{s:s, s:{s:s}}, s:{s:s, s:s}}]",
		"ID", NODE1, "Version", "Index", 17, "Spec", "Role", "manager",
		"Availability", "active", "Labels", "zone", "eu-1", "disk",
		"ssd", "gpu", "", "Description", "Hostname", "node-a", "Engine",
		"EngineVersion", "0.1.0", "Status", "State", "ready", "Addr",
		"10.0.0.1", "ManagerStatus", "Leader", 1, "Reachability",
		"reachable", "Addr", "10.0.0.1:2377", "ID", NODE2, "Version",
		"Index", 23, "Spec", "Role", "worker", "Availability", "drain",
		"Description", "Hostname", "node-b", "Engine", "EngineVersion",
		"0.1.0", "Status", "State", "down", "Addr", "10.0.0.2");
}

static json_t *fake_info(const struct fixture *f)
{
	return json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:s, s:b, s:{s:s}, s:i, s:i, s:[{s:s, s:s}]}}",
		"ServerVersion", "0.1.0", "Name", "node-a", "Swarm", "NodeID",
		NODE1, "NodeAddr", "10.0.0.1", "LocalNodeState", "active",
		"ControlAvailable", !f->info_worker, "Cluster", "ID", "cl1234",
		"Managers", 1, "Nodes", 2, "RemoteManagers", "NodeID", NODE1,
		"Addr", "10.0.0.1:2377");
}

static json_t *fake_swarm(const struct fixture *f)
{
	return json_pack(
		"{s:s, s:{s:i}, s:{s:s, s:{s:i}, s:{s:I}, s:{s:I}}, s:{s:s, s:s}}",
		"ID", "cl1234", "Version", "Index", 7, "Spec", "Name", "default",
		"Orchestration", "TaskHistoryRetentionLimit", 5, "Dispatcher",
		"HeartbeatPeriod", (json_int_t)5000000000LL, "CAConfig",
		"NodeCertExpiry", (json_int_t)7776000000000000LL, "JoinTokens",
		"Worker", f->rotated_worker ? WORKER_TOKEN2 : WORKER_TOKEN,
		"Manager", f->rotated_manager ? MANAGER_TOKEN2 : MANAGER_TOKEN);
}

/* /nodes/{id}: by exact ID only (orchctl resolves names and prefixes). */
static void fake_nodes_route(const struct api_request *req,
			     struct api_response *resp, const char *rest)
{
	char id[128];
	const char *slash = strchr(rest, '/');
	json_t *nodes = fake_nodes(), *found = NULL, *n;
	size_t i;
	snprintf(id, sizeof(id), "%.*s",
		 slash ? (int)(slash - rest) : (int)strlen(rest), rest);
	json_array_foreach(nodes, i, n) {
		if (strcmp(json_string_value(json_object_get(n, "ID")), id) == 0)
			found = n;
	}
	if (found == NULL)
		api_response_error(resp, 404, "node %s not found", id);
	else if (slash == NULL && strcmp(req->method, "GET") == 0)
		api_response_json(resp, 200, json_incref(found));
	else if (slash == NULL && strcmp(req->method, "DELETE") == 0 &&
		 strcmp(id, NODE1) == 0)
		api_response_error(resp, 400,
				   "node %s is a cluster manager and is a member of the "
				   "raft cluster. It must be demoted to worker before "
				   "removal",
				   id);
	else if ((slash == NULL && strcmp(req->method, "DELETE") == 0) ||
		 (slash && strcmp(slash, "/update") == 0 &&
		  strcmp(req->method, "POST") == 0))
		api_response_set(resp, 200, "text/plain", "", 0);
	else
		api_response_error(resp, 404, "page not found");
	json_decref(nodes);
}

static void fake_swarm_route(struct fixture *f, const struct api_request *req,
			     struct api_response *resp)
{
	if (strcmp(req->path, "/swarm") == 0) {
		api_response_json(resp, 200, fake_swarm(f));
	} else if (strcmp(req->path, "/swarm/init") == 0) {
		api_response_json(resp, 200, json_string(NODE1));
	} else if (strcmp(req->path, "/swarm/join") == 0) {
		if (strstr(req->body, REFUSED_TOKEN) != NULL)
			api_response_error(resp, 400, "invalid join token");
		else
			api_response_set(resp, 200, "text/plain", "", 0);
	} else if (strcmp(req->path, "/swarm/update") == 0) {
		f->rotated_worker |= api_request_query_bool(req, "rotateWorkerToken");
		f->rotated_manager |= api_request_query_bool(req, "rotateManagerToken");
		api_response_set(resp, 200, "text/plain", "", 0);
	} else {
		api_response_error(resp, 404, "page not found");
	}
}

/* /services/{ref}: by ID, name or ID prefix, like the daemon. */
static json_t *fake_lookup_service(const char *ref)
{
	if (strcmp(ref, "web") == 0 || strncmp(WEB_ID, ref, strlen(ref)) == 0)
		return fake_service(WEB_ID, "web", false);
	if (strcmp(ref, "agent") == 0 || strncmp(AGENT_ID, ref, strlen(ref)) == 0)
		return fake_service(AGENT_ID, "agent", true);
	if (strcmp(ref, NEW_ID) == 0)
		return fake_service(NEW_ID, "api", false);
	return NULL;
}

static void fake_record(struct fixture *f, const struct api_request *req)
{
	pthread_mutex_lock(&f->lock);
	if (f->record_count < MAX_RECORDS) {
		struct record *r = &f->records[f->record_count++];
		const char *filters = api_request_query(req, "filters");
		const char *version = api_request_query(req, "version");
		snprintf(r->method, sizeof(r->method), "%s", req->method);
		snprintf(r->path, sizeof(r->path), "%s", req->path);
		snprintf(r->filters, sizeof(r->filters), "%s",
			 filters ? filters : "");
		snprintf(r->version, sizeof(r->version), "%s",
			 version ? version : "");
		const char *query = strchr(req->raw_target, '?');
		snprintf(r->query, sizeof(r->query), "%s", query ? query + 1 : "");
		snprintf(r->body, sizeof(r->body), "%s", req->body);
		r->api_minor = req->version_minor;
	}
	pthread_mutex_unlock(&f->lock);
}

/* The UpdateStatus of "api" the fixture asks for (JSON text), if any. */
static void fake_update_status(struct fixture *f, json_t *service)
{
	const char *text = f->update_posted ? f->status_after : f->status_before;
	if (strcmp(json_string_value(json_object_get(service, "ID")), NEW_ID) != 0)
		return;
	if (text != NULL)
		json_object_set_new(service, "UpdateStatus",
				    json_loads(text, 0, NULL));
	if (f->api_spec != NULL)
		json_object_set(service, "Spec", f->api_spec);
}

static void fake_services_route(struct fixture *f, const struct api_request *req,
				struct api_response *resp, const char *rest)
{
	char ref[128];
	const char *slash = strchr(rest, '/');
	snprintf(ref, sizeof(ref), "%.*s",
		 slash ? (int)(slash - rest) : (int)strlen(rest), rest);
	json_t *s = fake_lookup_service(ref);
	if (s == NULL) {
		api_response_error(resp, 404, "service %s not found", ref);
		return;
	}
	if (slash == NULL && strcmp(req->method, "GET") == 0) {
		pthread_mutex_lock(&f->lock);
		fake_update_status(f, s);
		pthread_mutex_unlock(&f->lock);
		api_response_json(resp, 200, s);
		return;
	}
	json_decref(s);
	if (slash == NULL && strcmp(req->method, "DELETE") == 0)
		api_response_set(resp, 200, "text/plain", "", 0);
	else if (slash && strcmp(slash, "/update") == 0) {
		pthread_mutex_lock(&f->lock);
		f->update_posted = true;
		if (strcmp(ref, NEW_ID) == 0) {
			json_decref(f->api_spec);
			f->api_spec = json_loads(req->body, 0, NULL);
		}
		pthread_mutex_unlock(&f->lock);
		api_response_json(resp, 200, json_pack("{s:n}", "Warnings"));
	} else if (slash && strcmp(slash, "/logs") == 0)
		api_response_set(resp, 200, "text/plain",
				 "web.1.t1aaa@node-a    | hello\n", 30);
	else
		api_response_error(resp, 404, "page not found");
}

static void fake_handler(void *ctx, const struct api_request *req,
			 struct api_response *resp)
{
	struct fixture *f = ctx;
	fake_record(f, req);
	if (strcmp(req->path, "/info") == 0) {
		api_response_json(resp, 200, fake_info(f));
	} else if (strcmp(req->path, "/nodes") == 0) {
		api_response_json(resp, 200, fake_nodes());
	} else if (strcmp(req->path, "/services") == 0) {
		json_t *list = json_pack("[o, o]",
					 fake_service(WEB_ID, "web", false),
					 fake_service(AGENT_ID, "agent", true));
		json_object_set_new(json_array_get(list, 0), "ServiceStatus",
				    json_pack("{s:i, s:i}", "RunningTasks", 2,
					      "DesiredTasks", 3));
		json_object_set_new(json_array_get(list, 1), "ServiceStatus",
				    json_pack("{s:i, s:i}", "RunningTasks", 2,
					      "DesiredTasks", 2));
		api_response_json(resp, 200, list);
	} else if (strcmp(req->path, "/services/create") == 0) {
		api_response_json(resp, 201, json_pack("{s:s}", "ID", NEW_ID));
	} else if (strncmp(req->path, "/services/", 10) == 0) {
		fake_services_route(f, req, resp, req->path + 10);
	} else if (strcmp(req->path, "/tasks") == 0) {
		const char *text = api_request_query(req, "filters");
		json_t *filters = text ? json_loads(text, 0, NULL) : NULL;
		api_response_json(resp, 200, fake_tasks(filters));
		json_decref(filters);
	} else if (strncmp(req->path, "/nodes/", 7) == 0) {
		fake_nodes_route(req, resp, req->path + 7);
	} else if (strncmp(req->path, "/swarm", 6) == 0) {
		fake_swarm_route(f, req, resp);
	} else {
		api_response_error(resp, 404, "page not found");
	}
}

/* ------------------------------------------------------------------ */
/* Fixture and running orchctl                                         */

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256] = "";
	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_orchctl_cli.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/orchd.sock", f->dir);
	snprintf(f->host, sizeof(f->host), "unix://%s", f->sock);
	pthread_mutex_init(&f->lock, NULL);
	struct api_http_config config = { .socket_path = f->sock,
					  .handler = fake_handler,
					  .handler_ctx = f };
	if (api_http_start(&config, &f->server, err, sizeof(err)) != 0)
		fail_msg("api_http_start: %s", err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[160];
	api_http_stop(f->server);
	snprintf(path, sizeof(path), "%s/out", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/err", f->dir);
	unlink(path);
	rmdir(f->dir);
	pthread_mutex_destroy(&f->lock);
	json_decref(f->api_spec);
	free(f->out);
	free(f->err);
	free(f);
	return 0;
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	char *text = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&text, &cap, '\0', fp);
	fclose(fp);
	if (n < 0) {
		free(text);
		text = strdup("");
	}
	return text;
}

/* Runs orchctl with argv (NULL-terminated, without argv[0]); ORCH_HOST
 * points at the fake daemon. Returns the exit code; f->out/f->err hold
 * what it printed. */
static int run_orchctl(struct fixture *f, const char *const *args)
{
	char out_path[160], err_path[160], host_env[200];
	const char *argv[64] = { "orchctl" };
	size_t n = 1;
	for (; args[n - 1] != NULL; n++) {
		assert_true(n < 63);
		argv[n] = args[n - 1];
	}
	argv[n] = NULL;
	snprintf(out_path, sizeof(out_path), "%s/out", f->dir);
	snprintf(err_path, sizeof(err_path), "%s/err", f->dir);
	snprintf(host_env, sizeof(host_env), "ORCH_HOST=%s", f->host);
	char *envp[] = { host_env, "ORCHCTL_TEST_NOW=" TEST_NOW, "LC_ALL=C", NULL };
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, out_path,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&actions, 2, err_path,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pid_t pid;
	int rc = posix_spawn(&pid, ORCHCTL_BINARY, &actions, NULL,
			     (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&actions);
	assert_int_equal(rc, 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	free(f->out);
	free(f->err);
	f->out = slurp(out_path);
	f->err = slurp(err_path);
	if (!WIFEXITED(status))
		fail_msg("orchctl did not exit normally (status %d); stderr: %s",
			 status, f->err);
	return WEXITSTATUS(status);
}

#define RUN(f, ...) run_orchctl((f), (const char *const[]){ __VA_ARGS__, NULL })

static void expect_text(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("%s differs.\n--- got ---\n%s--- want ---\n%s---",
			 what, got, want);
}

static size_t records(struct fixture *f)
{
	pthread_mutex_lock(&f->lock);
	size_t n = f->record_count;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static const struct record *find_record(struct fixture *f, const char *method,
					const char *path)
{
	for (size_t i = 0; i < records(f); i++) {
		if (strcmp(f->records[i].method, method) == 0 &&
		    strcmp(f->records[i].path, path) == 0)
			return &f->records[i];
	}
	fail_msg("no %s %s request was sent", method, path);
	return NULL;
}

static void reset_records(struct fixture *f)
{
	pthread_mutex_lock(&f->lock);
	f->record_count = 0;
	pthread_mutex_unlock(&f->lock);
}

/* Checks every request sent, in order: "METHOD /path?raw-query". */
static void expect_requests_v(struct fixture *f, const char *const *want)
{
	size_t n = 0;
	for (; want[n] != NULL; n++) {
		char got[800];
		if (n >= records(f))
			fail_msg("request %zu: none sent, want %s", n, want[n]);
		const struct record *r = &f->records[n];
		snprintf(got, sizeof(got), "%s %s%s%s", r->method, r->path,
			 r->query[0] ? "?" : "", r->query);
		if (strcmp(got, want[n]) != 0)
			fail_msg("request %zu: got %s, want %s", n, got, want[n]);
	}
	if (records(f) != n)
		fail_msg("%zu requests sent, want %zu (extra: %s %s)",
			 records(f), n, f->records[n].method, f->records[n].path);
}

#define EXPECT_REQUESTS(f, ...) \
	expect_requests_v((f), (const char *const[]){ __VA_ARGS__, NULL })

/* Compares JSON text with want (stolen). */
static void expect_json(const char *what, const char *text, json_t *want)
{
	json_error_t jerr;
	json_t *got = json_loads(text, 0, &jerr);
	assert_non_null(want);
	if (got == NULL)
		fail_msg("%s: bad JSON '%s': %s", what, text, jerr.text);
	if (!json_equal(got, want)) {
		char *got_text = json_dumps(got, JSON_SORT_KEYS);
		char *want_text = json_dumps(want, JSON_SORT_KEYS);
		fail_msg("%s differs\n--- got ---\n%s\n--- want ---\n%s", what,
			 got_text, want_text);
	}
	json_decref(got);
	json_decref(want);
}

/* Compares a recorded request's JSON body with want (stolen). */
static void expect_body(const struct record *r, json_t *want)
{
	char what[320];
	snprintf(what, sizeof(what), "body of %s %s", r->method, r->path);
	expect_json(what, r->body, want);
}

/* ------------------------------------------------------------------ */
/* Listing commands                                                    */

static void test_service_ls_columns(void **state)
{
	struct fixture *f = *state;
	char want[1024];
	assert_int_equal(RUN(f, "service", "ls"), 0);
	/* Columns: widest cell + 3, at least 10; the last one unpadded. */
	snprintf(want, sizeof(want),
		 "%-15s%-10s%-13s%-11s%-16s%s\n%-15s%-10s%-13s%-11s%-16s%s\n"
		 "%-15s%-10s%-13s%-11s%-16s%s\n",
		 "ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS", "ag1234567890",
		 "agent", "global", "2/2", "orchd/agent:2", "", "wb1234567890",
		 "web", "replicated", "2/3", "nginx:1.25", "*:8080->80/tcp");
	expect_text("service ls", f->out, want);
	const struct record *r = find_record(f, "GET", "/services");
	assert_int_equal(r->api_minor, 41);
	assert_string_equal(f->err, "");
}

static void test_node_ls_columns(void **state)
{
	struct fixture *f = *state;
	char want[1024];
	assert_int_equal(RUN(f, "node", "ls"), 0);
	snprintf(want, sizeof(want),
		 "%-30s%-11s%-10s%-15s%-17s%s\n%-30s%-11s%-10s%-15s%-17s%s\n"
		 "%-30s%-11s%-10s%-15s%-17s%s\n",
		 "ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS",
		 "ENGINE VERSION", NODE1 " *", "node-a", "Ready", "Active",
		 "Leader", "0.1.0", NODE2, "node-b", "Down", "Drain", "", "0.1.0");
	expect_text("node ls", f->out, want);
	find_record(f, "GET", "/info");
}

static void test_service_ps_columns(void **state)
{
	struct fixture *f = *state;
	char want[2048];
	assert_int_equal(RUN(f, "service", "ps", "web"), 0);
	/* The error cell holds "…" (3 bytes, 1 column): printf pads bytes,
     * so that row's ERROR cell is padded by hand to 35 columns. */
	snprintf(want, sizeof(want),
		 "%-15s%-12s%-13s%-10s%-16s%-25s%-35s%s\n"
		 "%-15s%-12s%-13s%-10s%-16s%-25s%-35s%s\n"
		 "%-15s%-12s%-13s%-10s%-16s%-25s%-35s%s\n"
		 "%-15s%-12s%-13s%-10s%-16s%-25s%s%s\n"
		 "%-15s%-12s%-13s%-10s%-16s%-25s%-35s%s\n",
		 "ID", "NAME", "IMAGE", "NODE", "DESIRED STATE",
		 "CURRENT STATE", "ERROR", "PORTS", "t1aaaaaaaaaa", "web.1",
		 "nginx:1.25", "node-a", "Running", "Running 2 minutes ago", "",
		 "", "t2aaaaaaaaaa", "web.2", "nginx:1.25", "node-b", "Running",
		 "Running 30 seconds ago", "", "", "t2old0000000", " \\_ web.2",
		 "nginx:1.25", "node-b", "Shutdown", "Failed 3 hours ago",
		 "\"No such image: nginx:nope-not\xe2\x80\xa6\"   ", "",
		 "t3aaaaaaaaaa", "web.3", "nginx:1.25", "", "Running",
		 "Pending 1 second ago", "", "");
	expect_text("service ps", f->out, want);
	const struct record *r = find_record(f, "GET", "/tasks");
	json_t *filters = json_loads(r->filters, 0, NULL);
	assert_non_null(filters);
	assert_true(json_is_true(
		json_object_get(json_object_get(filters, "service"), WEB_ID)));
	json_decref(filters);
	find_record(f, "GET", "/services/web");
}

static void test_service_ps_filter_and_no_trunc(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "service", "ps", "--no-trunc", "-f",
			     "desired-state=running", "web"),
			 0);
	assert_non_null(strstr(f->out, "t1aaaaaaaaaaaaaaaaaaaaaaa"));
	assert_non_null(strstr(f->out, "nginx:1.25@sha256:abc"));
	assert_null(strstr(f->out, "t2old"));
	const struct record *r = find_record(f, "GET", "/tasks");
	json_t *filters = json_loads(r->filters, 0, NULL);
	assert_true(json_is_true(json_object_get(
		json_object_get(filters, "desired-state"), "running")));
	json_decref(filters);
}

static void test_info(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "info"), 0);
	assert_non_null(strstr(
		f->out, " Swarm: active\n  NodeID: " NODE1 "\n  Is Manager: true\n"
			"  ClusterID: cl1234\n  Managers: 1\n  Nodes: 2\n"));
	assert_non_null(strstr(f->out, "  Manager Addresses:\n   10.0.0.1:2377\n"));
}

static void test_inspect_and_logs(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "service", "inspect", "web"), 0);
	json_t *v = json_loads(f->out, 0, NULL);
	assert_true(json_is_array(v));
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(v, 0), "ID")),
		WEB_ID);
	json_decref(v);
	assert_int_equal(RUN(f, "service", "inspect", "--pretty", "web"), 0);
	assert_non_null(strstr(f->out, "Name:\t\tweb\n"));
	assert_non_null(strstr(f->out, " Replicas:\t3\n"));
	assert_int_equal(RUN(f, "node", "inspect", "node-b", "n1"), 0);
	v = json_loads(f->out, 0, NULL);
	assert_int_equal(json_array_size(v), 2);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(v, 0), "ID")), NODE2);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(v, 1), "ID")), NODE1);
	json_decref(v);
	assert_int_equal(RUN(f, "node", "inspect", "nothere"), 1);
	assert_string_equal(f->err, "Error: No such node: nothere\n");
	assert_int_equal(RUN(f, "service", "logs", "--tail", "5", "web"), 0);
	assert_string_equal(f->out, "web.1.t1aaa@node-a    | hello\n");
}

/* ------------------------------------------------------------------ */
/* Commands that change things                                         */

static void test_service_create_body(void **state)
{
	struct fixture *f = *state;
	int rc = RUN(f, "service", "create", "-d", "--name", "api", "--replicas",
		     "2", "-e", "A=1", "--env", "B=two", "--reserve-cpu", "0.5",
		     "--reserve-memory", "64m", "--limit-cpu", "1",
		     "--limit-memory", "1g", "--restart-condition", "on-failure",
		     "--restart-delay", "1.5s", "--restart-max-attempts", "3",
		     "--restart-window", "1m", "--constraint", "node.role==manager",
		     "--mount", "type=bind,source=/srv,target=/data,readonly",
		     "--label", "tier=api", "--runtime", "process",
		     "--stop-grace-period", "10s", "--update-parallelism", "3",
		     "--update-delay", "2s", "--update-order", "start-first",
		     "--rebalance", "--container-label", "app=api",
		     "nginx:1.25", "nginx", "-g", "daemon off;");
	if (rc != 0)
		fail_msg("exit %d: %s", rc, f->err);
	assert_string_equal(f->out, NEW_ID "\n");
	const struct record *r = find_record(f, "POST", "/services/create");
	json_error_t jerr;
	json_t *spec = json_loads(r->body, 0, &jerr);
	if (spec == NULL)
		fail_msg("bad body %s: %s", r->body, jerr.text);
	json_t *want = json_pack(
		"{s:s, s:{s:s}, s:{s:{s:I}},"
		" s:{s:{s:s, s:[s, s, s], s:[s, s], s:[{s:s, s:s, s:b, s:s}], s:I},"
		"    s:{s:{s:I, s:I}, s:{s:I, s:I}},"
		"    s:{s:s, s:I, s:I, s:I}, s:{s:[s]}, s:s}}",
		"Name", "api", "Labels", "tier", "api", "Mode", "Replicated",
		"Replicas", (json_int_t)2, "TaskTemplate", "ContainerSpec",
		"Image", "nginx:1.25", "Args", "nginx", "-g", "daemon off;",
		"Env", "A=1", "B=two", "Mounts", "Type", "bind", "Target",
		"/data", "ReadOnly", 1, "Source", "/srv", "StopGracePeriod",
		(json_int_t)10000000000LL, "Resources", "Limits", "NanoCPUs",
		(json_int_t)1000000000LL, "MemoryBytes", (json_int_t)1073741824LL,
		"Reservations", "NanoCPUs", (json_int_t)500000000LL, "MemoryBytes",
		(json_int_t)67108864LL, "RestartPolicy", "Condition",
		"on-failure", "Delay", (json_int_t)1500000000LL, "MaxAttempts",
		(json_int_t)3, "Window", (json_int_t)60000000000LL, "Placement",
		"Constraints", "node.role==manager", "Runtime", "process");
	assert_non_null(want);
	/* docker's create sends the whole UpdateConfig: defaults and flags. */
	json_object_set_new(
		want, "UpdateConfig",
		json_pack("{s:i, s:I, s:s, s:I, s:f, s:s}", "Parallelism", 3,
			  "Delay", (json_int_t)2000000000LL, "FailureAction",
			  "pause", "Monitor", (json_int_t)5000000000LL,
			  "MaxFailureRatio", 0.0, "Order", "start-first"));
	json_object_set_new(want, "OrchRebalance", json_true());
	json_object_set_new(json_object_get(json_object_get(want, "TaskTemplate"),
					    "ContainerSpec"),
			    "Labels", json_pack("{s:s}", "app", "api"));
	if (!json_equal(spec, want)) {
		char *got_text = json_dumps(spec, JSON_INDENT(2) | JSON_SORT_KEYS);
		char *want_text = json_dumps(want, JSON_INDENT(2) | JSON_SORT_KEYS);
		fail_msg("spec differs\n--- got ---\n%s\n--- want ---\n%s",
			 got_text, want_text);
	}
	json_decref(spec);
	json_decref(want);
	assert_int_equal(records(f), 1); /* detached: no progress polling */
}

static void test_service_create_progress(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(
		RUN(f, "service", "create", "--mode", "global", "orchd/agent:2"), 0);
	const struct record *r = find_record(f, "POST", "/services/create");
	json_t *spec = json_loads(r->body, 0, NULL);
	assert_true(json_is_object(
		json_object_get(json_object_get(spec, "Mode"), "Global")));
	assert_null(json_object_get(json_object_get(spec, "Mode"), "Replicated"));
	json_decref(spec);
	/* The fake answers NEW_ID as a 2-replica service whose tasks run. */
	expect_text("create progress", f->out,
		    NEW_ID
		    "\n"
		    "overall progress: 2 out of 2 tasks\n"
		    "1/2: running   [==================================================>]\n"
		    "2/2: running   [==================================================>]\n"
		    "verify: Service converged\n");
	r = find_record(f, "GET", "/tasks");
	json_t *filters = json_loads(r->filters, 0, NULL);
	assert_true(json_is_true(
		json_object_get(json_object_get(filters, "service"), NEW_ID)));
	json_decref(filters);
	find_record(f, "GET", "/services/" NEW_ID);
}

static void test_service_scale(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "service", "scale", "-d", "web=5"), 0);
	assert_string_equal(f->out, "web scaled to 5\n");
	const struct record *r = find_record(f, "POST", "/services/" WEB_ID "/update");
	assert_string_equal(r->version, "42");
	json_t *spec = json_loads(r->body, 0, NULL);
	assert_non_null(spec);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_object_get(spec, "Mode"),
						 "Replicated"),
				 "Replicas")),
			 5);
	assert_string_equal(json_string_value(json_object_get(spec, "Name")), "web");
	json_decref(spec);
}

static void test_service_scale_global_refused(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "service", "scale", "agent=2"), 1);
	assert_non_null(strstr(f->err, "scale can only be used with replicated mode"));
	for (size_t i = 0; i < records(f); i++)
		assert_string_not_equal(f->records[i].method, "POST");
}

static void test_service_rm_and_daemon_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "service", "rm", "web", "nope"), 1);
	assert_string_equal(f->out, "web\n");
	assert_string_equal(f->err,
			    "Error response from daemon: service nope not found\n");
	find_record(f, "DELETE", "/services/web");
	find_record(f, "DELETE", "/services/nope");
}

static void test_service_update_body(void **state)
{
	struct fixture *f = *state;
	int rc = RUN(f, "service", "update", "-d", "--image", "nginx:1.26",
		     "--env-add", "B=3", "--env-rm", "A", "--label-add", "x=y",
		     "--force", "--update-parallelism", "0",
		     "--update-failure-action", "rollback", "--rebalance=false",
		     "--replicas", "5", "--args", "-g 'daemon off;'",
		     "--constraint-add", "node.role==worker",
		     "--reserve-memory", "1g", "--restart-condition", "none",
		     "--update-max-failure-ratio", "0.5", "web");
	if (rc != 0)
		fail_msg("exit %d: %s", rc, f->err);
	assert_string_equal(f->out, "web\n");
	assert_string_equal(f->err, "");
	EXPECT_REQUESTS(f, "GET /services/web",
			"POST /services/" WEB_ID "/update?version=42");
	expect_body(
		&f->records[1],
		json_loads("{\"Name\": \"web\", \"Labels\": {\"x\": \"y\"},"
			   " \"Mode\": {\"Replicated\": {\"Replicas\": 5}},"
			   " \"OrchRebalance\": false,"
			   " \"TaskTemplate\": {\"ForceUpdate\": 5,"
			   "  \"ContainerSpec\": {\"Image\": \"nginx:1.26\", \"Env\": [\"B=3\"],"
			   "   \"Args\": [\"-g\", \"daemon off;\"]},"
			   "  \"Placement\": {\"Constraints\": [\"node.role==worker\"]},"
			   "  \"Resources\": {\"Reservations\": {\"MemoryBytes\": 1073741824}},"
			   "  \"RestartPolicy\": {\"Condition\": \"none\"}},"
			   " \"UpdateConfig\": {\"Parallelism\": 0, \"Delay\": 10000000000,"
			   "  \"FailureAction\": \"rollback\", \"Monitor\": 30000000000,"
			   "  \"MaxFailureRatio\": 0.5, \"Order\": \"start-first\"}}",
			   0, NULL));
	/* Flags after SERVICE count too; no flag at all still posts the spec
     * unchanged (docker does). */
	reset_records(f);
	assert_int_equal(RUN(f, "service", "update", "web", "-d"), 0);
	EXPECT_REQUESTS(f, "GET /services/web",
			"POST /services/" WEB_ID "/update?version=42");
	json_t *unchanged = fake_service(WEB_ID, "web", false);
	expect_body(&f->records[1], json_incref(json_object_get(unchanged, "Spec")));
	/* Removals go first whatever the order typed: rm k, then add k=v. */
	reset_records(f);
	assert_int_equal(RUN(f, "service", "update", "-d", "--label-add", "k=v",
			     "--label-rm", "k", "--env-add", "A=1", "--env-rm",
			     "A", "web"),
			 0);
	json_t *want = json_incref(json_object_get(unchanged, "Spec"));
	json_object_set_new(want, "Labels", json_pack("{s:s}", "k", "v"));
	json_object_set_new(json_object_get(json_object_get(want, "TaskTemplate"),
					    "ContainerSpec"),
			    "Env", json_pack("[s]", "A=1"));
	expect_body(&f->records[1], want);
	json_decref(unchanged);
}

static void test_service_update_refused_for_this_service(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(
		RUN(f, "service", "update", "-d", "--replicas", "2", "agent"), 1);
	assert_string_equal(f->err,
			    "invalid argument \"2\" for \"--replicas\" flag: replicas can "
			    "only be used with replicated mode\n"
			    "See 'orchctl service update --help'.\n");
	assert_string_equal(f->out, "");
	EXPECT_REQUESTS(f, "GET /services/agent");
	assert_int_equal(RUN(f, "service", "update", "nope"), 1);
	assert_string_equal(f->err,
			    "Error response from daemon: service nope not found\n");
}

/* Forgets what was posted for "api": its next GET is the canned one. */
static void fresh_api(struct fixture *f)
{
	pthread_mutex_lock(&f->lock);
	f->update_posted = false;
	json_decref(f->api_spec);
	f->api_spec = NULL;
	pthread_mutex_unlock(&f->lock);
}

static const char api_progress[] = NEW_ID
	"\n"
	"overall progress: 2 out of 2 tasks\n"
	"1/2: running   [==================================================>]\n"
	"2/2: running   [==================================================>]\n"
	"verify: Service converged\n";

static void test_service_update_progress(void **state)
{
	struct fixture *f = *state;
	/* Nothing to replace: every task runs the current spec. */
	assert_int_equal(RUN(f, "service", "update", NEW_ID), 0);
	expect_text("update progress", f->out, api_progress);
	find_record(f, "POST", "/services/" NEW_ID "/update");
	/* -q: the reference only, but the wait is the same. */
	fresh_api(f);
	reset_records(f);
	assert_int_equal(RUN(f, "service", "update", "-q", NEW_ID), 0);
	assert_string_equal(f->out, NEW_ID "\n");
	find_record(f, "GET", "/tasks");
}

static void test_service_update_status(void **state)
{
	struct fixture *f = *state;
	static const char completed_before[] =
		"{\"State\": \"completed\", \"StartedAt\": \"2024-05-01T09:00:00Z\","
		" \"Message\": \"update completed\"}";
	static const char paused_now[] =
		"{\"State\": \"paused\", \"StartedAt\": \"2024-05-01T10:00:00.5Z\","
		" \"Message\": \"update paused due to failure of task n1task\"}";
	/* This update paused: its message, exit 1. */
	f->status_before = completed_before;
	f->status_after = paused_now;
	assert_int_equal(RUN(f, "service", "update", "--force", NEW_ID), 1);
	assert_string_equal(f->err,
			    "service update paused: update paused due to failure of task "
			    "n1task\n");
	assert_non_null(
		strstr(f->out, NEW_ID "\noverall progress: 0 out of 2 tasks\n"));
	assert_null(strstr(f->out, "converged"));
	/* A pause left by an older update says nothing about this one. */
	fresh_api(f);
	f->status_before = paused_now;
	assert_int_equal(RUN(f, "service", "update", NEW_ID), 0);
	expect_text("progress after a stale pause", f->out, api_progress);
	assert_string_equal(f->err, "");
	/* A new image: no task runs it yet; the orchestrator's "completed"
     * ends the wait as docker's does. */
	fresh_api(f);
	f->status_before = completed_before;
	f->status_after = "{\"State\": \"completed\", \"StartedAt\": \"2024-05-01T10:00:01Z\"}";
	assert_int_equal(RUN(f, "service", "update", "--image", "nginx:2", NEW_ID), 0);
	expect_text("progress of outdated tasks", f->out,
		    NEW_ID
		    "\n"
		    "overall progress: 0 out of 2 tasks\n"
		    "1/2:  \n"
		    "2/2:  \n"
		    "verify: Service converged\n");
}

static void test_service_inspect_update_pretty(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "service", "inspect", "--pretty", "web"), 0);
	assert_non_null(strstr(f->out,
			       "Service Mode:\tReplicated\n Replicas:\t3\n"
			       "Rebalance:\ttrue\n"
			       "UpdateStatus:\n"
			       " State:\t\tcompleted\n"
			       " Started:\t10 minutes ago\n"
			       " Completed:\t5 minutes ago\n"
			       " Message:\tupdate completed\n"));
	assert_non_null(strstr(f->out,
			       "UpdateConfig:\n"
			       " Parallelism:\t2\n"
			       " Delay:\t\t10s\n"
			       " On failure:\tcontinue\n"
			       " Monitoring Period: 30s\n"
			       " Max failure ratio: 0.25\n"
			       " Update order:      start-first\n"
			       "ContainerSpec:\n"));
	/* No UpdateConfig, no UpdateStatus: no blocks. */
	assert_int_equal(RUN(f, "service", "inspect", "--pretty", "agent"), 0);
	assert_null(strstr(f->out, "Update"));
	assert_null(strstr(f->out, "Rebalance"));
}

static void test_swarm_init(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "swarm", "init", "--advertise-addr", "10.0.0.1"), 0);
	expect_text("swarm init", f->out,
		    "Swarm initialized: current node (" NODE1
		    ") is now a manager.\n"
		    "\n"
		    "To add a worker to this swarm, run the following command:\n"
		    "\n"
		    "    orchctl swarm join --token " WORKER_TOKEN
		    " 10.0.0.1:2377\n"
		    "\n"
		    "To add a manager to this swarm, run 'orchctl swarm join-token manager' and "
		    "follow the instructions.\n"
		    "\n");
	EXPECT_REQUESTS(f, "POST /swarm/init", "GET /swarm", "GET /info");
	expect_body(&f->records[0], json_pack("{s:s, s:s, s:b}", "ListenAddr",
					      "0.0.0.0:2377", "AdvertiseAddr",
					      "10.0.0.1", "ForceNewCluster", 0));
}

/* ------------------------------------------------------------------ */
/* Cluster verbs: node update|promote|demote|rm|ps, swarm join...       */

static void test_node_update(void **state)
{
	struct fixture *f = *state;
	int rc = RUN(f, "node", "update", "--availability", "pause", "--role",
		     "worker", "--label-add", "tier=db", "--label-add",
		     "empty=", "--label-rm", "zone", "node-a");
	if (rc != 0)
		fail_msg("exit %d: %s", rc, f->err);
	assert_string_equal(f->out, "node-a\n");
	assert_string_equal(f->err, "");
	EXPECT_REQUESTS(f, "GET /nodes", "GET /nodes/" NODE1,
			"POST /nodes/" NODE1 "/update?version=17");
	expect_body(&f->records[2],
		    json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "Role",
			      "worker", "Availability", "pause", "Labels", "disk",
			      "ssd", "gpu", "", "tier", "db", "empty", ""));
	/* A unique ID prefix; no flags: the spec goes back unchanged. */
	reset_records(f);
	assert_int_equal(RUN(f, "node", "update", "n2"), 0);
	assert_string_equal(f->out, "n2\n");
	EXPECT_REQUESTS(f, "GET /nodes", "GET /nodes/" NODE2,
			"POST /nodes/" NODE2 "/update?version=23");
	expect_body(&f->records[2], json_pack("{s:s, s:s}", "Role", "worker",
					      "Availability", "drain"));
	/* "self": the node of GET /info. */
	reset_records(f);
	assert_int_equal(
		RUN(f, "node", "update", "--availability", "drain", "self"), 0);
	assert_string_equal(f->out, "self\n");
	EXPECT_REQUESTS(f, "GET /nodes", "GET /info", "GET /nodes/" NODE1,
			"POST /nodes/" NODE1 "/update?version=17");
}

static void test_node_update_refusals(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "node", "update", "--label-rm", "zone", "node-b"), 1);
	assert_string_equal(f->err,
			    "Error: key zone doesn't exist in node's labels\n");
	assert_string_equal(f->out, "");
	EXPECT_REQUESTS(f, "GET /nodes", "GET /nodes/" NODE2);
	reset_records(f);
	assert_int_equal(RUN(f, "node", "update", "--availability", "drain", "n"), 1);
	assert_string_equal(f->err, "Error: node n is ambiguous (2 matches)\n");
	EXPECT_REQUESTS(f, "GET /nodes");
}

static void test_node_promote_demote(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "node", "promote", "node-b"), 0);
	assert_string_equal(f->out,
			    "Node node-b promoted to a manager in the swarm.\n");
	EXPECT_REQUESTS(f, "GET /nodes", "GET /nodes/" NODE2,
			"POST /nodes/" NODE2 "/update?version=23");
	expect_body(&f->records[2], json_pack("{s:s, s:s}", "Role", "manager",
					      "Availability", "drain"));
	reset_records(f);
	assert_int_equal(RUN(f, "node", "promote", "node-a", "node-b"), 0);
	assert_string_equal(f->out,
			    "Node " NODE1
			    " is already a manager.\n"
			    "Node node-b promoted to a manager in the swarm.\n");
	EXPECT_REQUESTS(f, "GET /nodes", "GET /nodes/" NODE1, "GET /nodes/" NODE2,
			"POST /nodes/" NODE2 "/update?version=23");
	reset_records(f);
	assert_int_equal(RUN(f, "node", "demote", NODE1), 0);
	assert_string_equal(f->out, "Manager " NODE1 " demoted in the swarm.\n");
	EXPECT_REQUESTS(f, "GET /nodes", "GET /nodes/" NODE1,
			"POST /nodes/" NODE1 "/update?version=17");
	expect_body(&f->records[2],
		    json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "Role", "worker",
			      "Availability", "active", "Labels", "zone",
			      "eu-1", "disk", "ssd", "gpu", ""));
	reset_records(f);
	assert_int_equal(RUN(f, "node", "demote", "node-b"), 0);
	assert_string_equal(f->out, "Node " NODE2 " is already a worker.\n");
	EXPECT_REQUESTS(f, "GET /nodes", "GET /nodes/" NODE2);
	/* Every NODE is resolved before anything changes. */
	reset_records(f);
	assert_int_equal(RUN(f, "node", "promote", "node-b", "nothere"), 1);
	assert_string_equal(f->err, "Error: No such node: nothere\n");
	assert_string_equal(f->out, "");
	EXPECT_REQUESTS(f, "GET /nodes");
}

static void test_node_rm(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "node", "rm", "node-b"), 0);
	assert_string_equal(f->out, "node-b\n");
	EXPECT_REQUESTS(f, "GET /nodes", "DELETE /nodes/" NODE2 "?force=false");
	reset_records(f);
	assert_int_equal(
		RUN(f, "node", "remove", "--force", "node-a", "nothere", "n2"), 1);
	assert_string_equal(f->out, "n2\n");
	expect_text("node rm errors", f->err,
		    "Error response from daemon: node " NODE1
		    " is a cluster manager and is a "
		    "member of the raft cluster. It must be demoted to worker before removal\n"
		    "Error: No such node: nothere\n");
	EXPECT_REQUESTS(f, "GET /nodes", "DELETE /nodes/" NODE1 "?force=true",
			"DELETE /nodes/" NODE2 "?force=true");
}

static void test_node_ps(void **state)
{
	struct fixture *f = *state;
	char want[2048];
	assert_int_equal(RUN(f, "node", "ps", "node-b"), 0);
	snprintf(want, sizeof(want),
		 "%-15s%-12s%-13s%-10s%-16s%-29s%-35s%s\n"
		 "%-15s%-12s%-13s%-10s%-16s%-29s%-35s%s\n"
		 "%-15s%-12s%-13s%-10s%-16s%-29s%-35s%s\n"
		 "%-15s%-12s%-13s%-10s%-16s%-29s%s%s\n",
		 "ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE",
		 "ERROR", "PORTS", "n2task000000", "api.2", "nginx:1.25",
		 "node-b", "Running", "Running About a minute ago", "", "",
		 "t2aaaaaaaaaa", "web.2", "nginx:1.25", "node-b", "Running",
		 "Running 30 seconds ago", "", "", "t2old0000000", " \\_ web.2",
		 "nginx:1.25", "node-b", "Shutdown", "Failed 3 hours ago",
		 "\"No such image: nginx:nope-not\xe2\x80\xa6\"   ", "");
	expect_text("node ps", f->out, want);
	EXPECT_REQUESTS(f, "GET /nodes",
			"GET /tasks?filters=%7B%22node%22%3A%7B%22" NODE2
			"%22%3Atrue%7D%7D",
			"GET /services");
	assert_string_equal(f->records[1].filters, "{\"node\":{\"" NODE2 "\":true}}");
	/* Default "self" (GET /info), with a filter kept next to the node. */
	reset_records(f);
	assert_int_equal(RUN(f, "node", "ps", "--no-trunc", "-f",
			     "desired-state=running"),
			 0);
	assert_non_null(strstr(f->out, "t1aaaaaaaaaaaaaaaaaaaaaaa   web.1"));
	assert_non_null(strstr(f->out, "n1task000000000000000000a   api.1"));
	assert_null(strstr(f->out, "node-b"));
	assert_string_equal(f->records[1].path, "/info");
	assert_string_equal(f->records[2].path, "/tasks");
	expect_json("node ps filters", f->records[2].filters,
		    json_pack("{s:{s:b}, s:{s:b}}", "desired-state", "running",
			      1, "node", NODE1, 1));
	assert_int_equal(records(f), 4); /* then GET /services */
}

static void test_node_inspect_pretty(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "node", "inspect", "--pretty", "node-a"), 0);
	expect_text("node inspect --pretty", f->out,
		    "ID:\t\t\t" NODE1
		    "\n"
		    "Labels:\n"
		    " - disk=ssd\n"
		    " - gpu\n"
		    " - zone=eu-1\n"
		    "Hostname:\t\tnode-a\n"
		    "Joined at:\t\t\n"
		    "Status:\n"
		    " State:\t\t\tReady\n"
		    " Availability:\t\tActive\n"
		    " Address:\t\t10.0.0.1\n"
		    "Manager Status:\n"
		    " Address:\t\t10.0.0.1:2377\n"
		    " Raft Status:\t\tReachable\n"
		    " Leader:\t\tYes\n"
		    "Platform:\n"
		    " Operating System:\t\n"
		    " Architecture:\t\t\n"
		    "Resources:\n"
		    " CPUs:\t\t\t0\n"
		    " Memory:\t\t0B\n"
		    "Engine Version:\t\t0.1.0\n");
	assert_int_equal(RUN(f, "node", "inspect", "--pretty", "node-b"), 0);
	assert_null(strstr(f->out, "Labels:"));
	assert_null(strstr(f->out, "Manager Status:"));
	assert_non_null(strstr(f->out,
			       " State:\t\t\tDown\n Availability:\t\tDrain\n"
			       " Address:\t\t10.0.0.2\n"));
}

static void test_swarm_join(void **state)
{
	struct fixture *f = *state;
	int rc = RUN(f, "swarm", "join", "--token", WORKER_TOKEN,
		     "--advertise-addr", "10.0.0.9", "--listen-addr",
		     "0.0.0.0:4000", "10.0.0.1:2377");
	if (rc != 0)
		fail_msg("exit %d: %s", rc, f->err);
	assert_string_equal(f->out, "This node joined a swarm as a manager.\n");
	EXPECT_REQUESTS(f, "POST /swarm/join", "GET /info");
	expect_body(&f->records[0],
		    json_pack("{s:s, s:s, s:[s], s:s}", "ListenAddr", "0.0.0.0:4000",
			      "AdvertiseAddr", "10.0.0.9", "RemoteAddrs",
			      "10.0.0.1:2377", "JoinToken", WORKER_TOKEN));
	reset_records(f);
	f->info_worker = true;
	assert_int_equal(RUN(f, "swarm", "join", "--token", WORKER_TOKEN,
			     "--availability", "drain", "[fd00::1]:2377"),
			 0);
	assert_string_equal(f->out, "This node joined a swarm as a worker.\n");
	expect_body(&f->records[0],
		    json_pack("{s:s, s:s, s:[s], s:s, s:s}", "ListenAddr",
			      "0.0.0.0:2377", "AdvertiseAddr", "",
			      "RemoteAddrs", "[fd00::1]:2377", "JoinToken",
			      WORKER_TOKEN, "Availability", "drain"));
	reset_records(f);
	assert_int_equal(RUN(f, "swarm", "join", "--token", REFUSED_TOKEN,
			     "manager-1:2377"),
			 1);
	assert_string_equal(f->err,
			    "Error response from daemon: invalid join token\n");
	assert_string_equal(f->out, "");
	EXPECT_REQUESTS(f, "POST /swarm/join");
}

static void test_swarm_join_token(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "swarm", "join-token", "worker"), 0);
	expect_text("join-token worker", f->out,
		    "To add a worker to this swarm, run the following command:\n\n"
		    "    orchctl swarm join --token " WORKER_TOKEN
		    " 10.0.0.1:2377\n\n");
	EXPECT_REQUESTS(f, "GET /swarm", "GET /info");
	reset_records(f);
	assert_int_equal(RUN(f, "swarm", "join-token", "-q", "manager"), 0);
	assert_string_equal(f->out, MANAGER_TOKEN "\n");
	EXPECT_REQUESTS(f, "GET /swarm");
	reset_records(f);
	assert_int_equal(RUN(f, "swarm", "join-token", "--rotate", "worker"), 0);
	expect_text("join-token --rotate worker", f->out,
		    "Successfully rotated worker join token.\n\n"
		    "To add a worker to this swarm, run the following command:\n\n"
		    "    orchctl swarm join --token " WORKER_TOKEN2
		    " 10.0.0.1:2377\n\n");
	EXPECT_REQUESTS(f, "GET /swarm",
			"POST /swarm/update?version=7&rotateWorkerToken=true&rotateManagerToken=false"
			"&rotateManagerUnlockKey=false",
			"GET /swarm", "GET /info");
	expect_body(&f->records[1],
		    json_pack("{s:s, s:{s:i}, s:{s:I}, s:{s:I}}", "Name", "default",
			      "Orchestration", "TaskHistoryRetentionLimit", 5,
			      "Dispatcher", "HeartbeatPeriod",
			      (json_int_t)5000000000LL, "CAConfig",
			      "NodeCertExpiry", (json_int_t)7776000000000000LL));
	reset_records(f);
	assert_int_equal(RUN(f, "swarm", "join-token", "--rotate", "-q", "manager"),
			 0);
	assert_string_equal(f->out, MANAGER_TOKEN2 "\n");
	EXPECT_REQUESTS(f, "GET /swarm",
			"POST /swarm/update?version=7&rotateWorkerToken=false&rotateManagerToken=true"
			"&rotateManagerUnlockKey=false",
			"GET /swarm");
}

static void test_swarm_update(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "swarm", "update", "--cert-expiry", "720h",
			     "--dispatcher-heartbeat", "10s",
			     "--task-history-limit", "3"),
			 0);
	assert_string_equal(f->out, "Swarm updated.\n");
	EXPECT_REQUESTS(f, "GET /swarm",
			"POST /swarm/update?version=7&rotateWorkerToken=false"
			"&rotateManagerToken=false&rotateManagerUnlockKey=false");
	expect_body(&f->records[1],
		    json_pack("{s:s, s:{s:i}, s:{s:I}, s:{s:I}}", "Name", "default",
			      "Orchestration", "TaskHistoryRetentionLimit", 3,
			      "Dispatcher", "HeartbeatPeriod",
			      (json_int_t)10000000000LL, "CAConfig", "NodeCertExpiry",
			      (json_int_t)(720LL * 3600 * 1000000000LL)));
	/* Only the flags given change. */
	reset_records(f);
	assert_int_equal(RUN(f, "swarm", "update", "--task-history-limit", "0"), 0);
	expect_body(&f->records[1],
		    json_pack("{s:s, s:{s:i}, s:{s:I}, s:{s:I}}", "Name", "default",
			      "Orchestration", "TaskHistoryRetentionLimit", 0,
			      "Dispatcher", "HeartbeatPeriod",
			      (json_int_t)5000000000LL, "CAConfig",
			      "NodeCertExpiry", (json_int_t)7776000000000000LL));
}

static void test_swarm_update_rebalance(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "swarm", "update", "--rebalance"), 0);
	expect_body(&f->records[1],
		    json_pack("{s:s, s:{s:i, s:b}, s:{s:I}, s:{s:I}}", "Name",
			      "default", "Orchestration", "TaskHistoryRetentionLimit",
			      5, "OrchRebalance", 1, "Dispatcher", "HeartbeatPeriod",
			      (json_int_t)5000000000LL, "CAConfig",
			      "NodeCertExpiry", (json_int_t)7776000000000000LL));
	reset_records(f);
	assert_int_equal(RUN(f, "swarm", "update", "--rebalance=false"), 0);
	json_t *body = json_loads(f->records[1].body, 0, NULL);
	assert_non_null(body);
	assert_true(json_is_false(json_object_get(
		json_object_get(body, "Orchestration"), "OrchRebalance")));
	json_decref(body);
}

/* ------------------------------------------------------------------ */
/* Refusals                                                            */

static void test_bad_input_sends_nothing(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *args[8];
		const char *message;
	} cases[] = {
		{ { "service", "create", "--replicas", "abc", "nginx" },
		  "invalid argument \"abc\" for \"--replicas\" flag: strconv.ParseUint: parsing \"abc\": "
		  "invalid syntax" },
		{ { "service", "create", "--replicas", "-1", "nginx" },
		  "for \"--replicas\" flag" },
		{ { "service", "create", "--mode", "sideways", "nginx" },
		  "invalid argument \"sideways\" for \"--mode\" flag" },
		{ { "service", "create", "--restart-delay", "5x", "nginx" },
		  "invalid argument \"5x\" for \"--restart-delay\" flag: time: unknown unit" },
		{ { "service", "create", "--stop-grace-period", "10", "nginx" },
		  "for \"--stop-grace-period\" flag: time: missing unit" },
		{ { "service", "create", "--limit-memory", "12q", "nginx" },
		  "invalid argument \"12q\" for \"--limit-memory\" flag: invalid size: '12q'" },
		{ { "service", "create", "--reserve-cpu", "half", "nginx" },
		  "invalid argument \"half\" for \"--reserve-cpu\" flag" },
		{ { "service", "create", "--constraint", "node.role=manager", "nginx" },
		  "for \"--constraint\" flag: constraint expected one operator from ==, !=" },
		{ { "service", "create", "--mount", "type=bind,target=/data", "nginx" },
		  "for \"--mount\" flag: source is required when specifying bind mount" },
		{ { "service", "create", "--restart-condition", "always", "nginx" },
		  "for \"--restart-condition\" flag" },
		{ { "service", "create", "--mode", "global", "--replicas", "2", "nginx" },
		  "replicas can only be used with replicated mode" },
		{ { "service", "create", "--bogus", "nginx" }, "unknown flag: --bogus" },
		{ { "service", "create", "--name" }, "flag needs an argument: --name" },
		{ { "service", "create" }, "requires at least 1 argument" },
		{ { "service", "scale", "web=abc" }, "invalid replicas value abc" },
		{ { "service", "scale", "web" }, "invalid scale specifier 'web'" },
		{ { "service", "scale", "web=2", "api" },
		  "invalid scale specifier 'api'" },
		{ { "service", "ps", "-f", "desired-state=asleep", "web" },
		  "for \"--filter\" flag" },
		{ { "service", "logs", "--tail", "x", "web" }, "for \"--tail\" flag" },
		{ { "service", "frobnicate" }, "unknown command: frobnicate" },
		{ { "node", "ls", "extra" }, "accepts no arguments" },
		{ { "node", "update", "--availability", "sleepy", "node-a" },
		  "invalid argument \"sleepy\" for \"--availability\" flag: invalid availability" },
		{ { "node", "update", "--role", "boss", "node-a" },
		  "invalid argument \"boss\" for \"--role\" flag: invalid role \"boss\"" },
		{ { "node", "update", "--label-add", "novalue", "node-a" },
		  "invalid argument \"novalue\" for \"--label-add\" flag: bad attribute format: novalue" },
		{ { "node", "update", "--label-add", "=v", "node-a" },
		  "for \"--label-add\" flag: empty key" },
		{ { "node", "update", "--label-rm", "", "node-a" },
		  "for \"--label-rm\" flag" },
		{ { "node", "update", "--availability", "drain" },
		  "requires exactly 1 argument" },
		{ { "node", "update", "node-a", "node-b" },
		  "requires exactly 1 argument" },
		{ { "node", "update", "--availability" },
		  "flag needs an argument: --availability" },
		{ { "node", "promote" },
		  "\"orchctl node promote\" requires at least 1 argument" },
		{ { "node", "demote" },
		  "\"orchctl node demote\" requires at least 1 argument" },
		{ { "node", "rm" }, "\"orchctl node rm\" requires at least 1 argument" },
		{ { "node", "rm", "--bogus", "node-b" }, "unknown flag: --bogus" },
		{ { "node", "ps", "-f", "desired-state=asleep" },
		  "for \"--filter\" flag" },
		{ { "swarm", "join", "--token", WORKER_TOKEN, "10.0.0.1" },
		  "invalid HOST:PORT argument: missing port in address \"10.0.0.1\"" },
		{ { "swarm", "join", "--token", WORKER_TOKEN, "10.0.0.1:99999" },
		  "invalid port \"99999\"" },
		{ { "swarm", "join", "--token", WORKER_TOKEN, ":2377" },
		  "missing host" },
		{ { "swarm", "join", "--token", "s3cret", "10.0.0.1:2377" },
		  "invalid argument for \"--token\" flag: invalid join token: must start with SWMTKN-1-" },
		{ { "swarm", "join", "--token", "SWMTKN-1-abc", "10.0.0.1:2377" },
		  "expected SWMTKN-1-<digest>-<secret>" },
		{ { "swarm", "join", "10.0.0.1:2377" },
		  "required flag(s) \"token\" not set" },
		{ { "swarm", "join", "--token", WORKER_TOKEN },
		  "requires exactly 1 argument" },
		{ { "swarm", "join", "--token", WORKER_TOKEN, "--availability",
		    "off", "10.0.0.1:2377" },
		  "invalid argument \"off\" for \"--availability\" flag" },
		{ { "swarm", "join", "--token", WORKER_TOKEN, "--listen-addr",
		    "", "10.0.0.1:2377" },
		  "for \"--listen-addr\" flag" },
		{ { "swarm", "join-token", "boss" }, "unknown role boss" },
		{ { "swarm", "join-token" }, "requires exactly 1 argument" },
		{ { "swarm", "join-token", "--rotate", "worker", "manager" },
		  "requires exactly 1 argument" },
		{ { "swarm", "update", "--cert-expiry", "90d" },
		  "invalid argument \"90d\" for \"--cert-expiry\" flag: time: unknown unit" },
		{ { "swarm", "update", "--dispatcher-heartbeat", "5" },
		  "for \"--dispatcher-heartbeat\" flag: time: missing unit" },
		{ { "swarm", "update", "--task-history-limit", "-1" },
		  "invalid argument \"-1\" for \"--task-history-limit\" flag" },
		{ { "swarm", "update", "now" }, "accepts no arguments" },
		{ { "swarm", "update", "--rebalance=maybe" },
		  "invalid argument \"maybe\" for \"--rebalance\" flag: strconv.ParseBool" },
		{ { "swarm", "update", "--rebalance", "true" }, "accepts no arguments" },
		{ { "service", "update", "--replicas", "abc", "web" },
		  "invalid argument \"abc\" for \"--replicas\" flag: strconv.ParseUint" },
		{ { "service", "update", "--update-failure-action", "explode", "web" },
		  "invalid argument \"explode\" for \"--update-failure-action\" flag: invalid failure "
		  "action" },
		{ { "service", "update", "--update-order", "middle-first", "web" },
		  "invalid argument \"middle-first\" for \"--update-order\" flag" },
		{ { "service", "update", "--update-max-failure-ratio", "1.5", "web" },
		  "for \"--update-max-failure-ratio\" flag: failure ratio must be between 0 and 1" },
		{ { "service", "update", "--update-delay", "5x", "web" },
		  "for \"--update-delay\" flag: time: unknown unit" },
		{ { "service", "update", "--update-monitor", "5", "web" },
		  "for \"--update-monitor\" flag" },
		{ { "service", "update", "--update-parallelism", "-1", "web" },
		  "for \"--update-parallelism\" flag" },
		{ { "service", "update", "--rebalance=maybe", "web" },
		  "for \"--rebalance\" flag" },
		{ { "service", "update", "--force=perhaps", "web" },
		  "for \"--force\" flag" },
		{ { "service", "update", "--env-rm", "A=1", "web" },
		  "invalid argument \"A=1\" for \"--env-rm\" flag: expected a key" },
		{ { "service", "update", "--label-rm", "", "web" },
		  "for \"--label-rm\" flag: empty key" },
		{ { "service", "update", "--constraint-add", "a=b", "web" },
		  "for \"--constraint-add\" flag: constraint expected one operator" },
		{ { "service", "update", "--args", "'open", "web" },
		  "for \"--args\" flag: EOF found when expecting closing quote" },
		{ { "service", "update", "--image", "", "web" },
		  "for \"--image\" flag: image must not" },
		{ { "service", "update", "--reserve-cpu", "half", "web" },
		  "for \"--reserve-cpu\" flag" },
		{ { "service", "update", "--limit-memory", "1zz", "web" },
		  "for \"--limit-memory\" flag" },
		{ { "service", "update", "--restart-window", "1", "web" },
		  "for \"--restart-window\" flag" },
		{ { "service", "update", "--bogus", "web" }, "unknown flag: --bogus" },
		{ { "service", "update", "--name", "x", "web" },
		  "unknown flag: --name" },
		{ { "service", "update", "--image" },
		  "flag needs an argument: --image" },
		{ { "service", "update" },
		  "\"orchctl service update\" requires exactly 1 argument" },
		{ { "service", "update", "web", "api" }, "requires exactly 1 argument" },
		{ { "service", "create", "--update-order", "sideways", "nginx" },
		  "for \"--update-order\" flag" },
		{ { "service", "create", "--rebalance=perhaps", "nginx" },
		  "for \"--rebalance\" flag" },
		{ { "service", "create", "--container-label", "=x", "nginx" },
		  "for \"--container-label\" flag: empty key" },
		{ { "swarm", "frobnicate" }, "unknown command: frobnicate" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *args = cases[i].args;
		int rc = run_orchctl(f, args);
		if (rc != 1)
			fail_msg("case %zu (%s %s): exit %d, want 1", i,
				 args[0], args[1], rc);
		if (strstr(f->err, cases[i].message) == NULL)
			fail_msg("case %zu: stderr '%s' lacks '%s'", i, f->err,
				 cases[i].message);
		if (records(f) != 0)
			fail_msg("case %zu: %zu requests were sent", i, records(f));
		assert_string_equal(f->out, "");
	}
}

static void test_daemon_unreachable(void **state)
{
	struct fixture *f = *state;
	char host[200], want[300];
	snprintf(host, sizeof(host), "unix://%s/nothing.sock", f->dir);
	assert_int_equal(RUN(f, "-H", host, "service", "ls"), 1);
	snprintf(want, sizeof(want),
		 "Cannot connect to the orchd daemon at %s. Is the orchd daemon running?\n",
		 host);
	assert_string_equal(f->err, want);
	assert_int_equal(RUN(f, "-H", "tcp://10.0.0.1:2375", "info"), 1);
	assert_non_null(strstr(f->err, "only unix:///path sockets are supported"));
	assert_int_equal(records(f), 0);
}

static void test_help_exits_zero(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(RUN(f, "service", "create", "--help"), 0);
	assert_non_null(
		strstr(f->out, "Usage:  orchctl service create [OPTIONS] IMAGE"));
	assert_int_equal(RUN(f, "node", "ls", "--help"), 0);
	static const char *const helps[][3] = {
		{ "node", "update", "Usage:  orchctl node update [OPTIONS] NODE\n" },
		{ "node", "promote", "Usage:  orchctl node promote NODE [NODE...]\n" },
		{ "node", "demote", "Usage:  orchctl node demote NODE [NODE...]\n" },
		{ "node", "rm", "Usage:  orchctl node rm [OPTIONS] NODE [NODE...]\n" },
		{ "node", "ps", "Usage:  orchctl node ps [OPTIONS] [NODE...]\n" },
		{ "swarm", "join", "Usage:  orchctl swarm join [OPTIONS] HOST:PORT\n" },
		{ "swarm", "join-token",
		  "Usage:  orchctl swarm join-token [OPTIONS] (worker|manager)\n" },
		{ "swarm", "update", "Usage:  orchctl swarm update [OPTIONS]\n" },
		{ "service", "update",
		  "Usage:  orchctl service update [OPTIONS] SERVICE\n" },
	};
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
		assert_int_equal(RUN(f, helps[i][0], helps[i][1], "--help"), 0);
		if (strncmp(f->out, helps[i][2], strlen(helps[i][2])) != 0)
			fail_msg("%s %s --help printed '%s'", helps[i][0],
				 helps[i][1], f->out);
	}
	assert_int_equal(RUN(f, "--help"), 0);
	assert_int_equal(records(f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_service_ls_columns, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_node_ls_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_ps_columns, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_service_ps_filter_and_no_trunc,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inspect_and_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_create_body, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_service_create_progress,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_scale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_scale_global_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_rm_and_daemon_error,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_update_body, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_service_update_refused_for_this_service,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_update_progress,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_update_status,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_inspect_update_pretty,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_swarm_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_update_refusals,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_promote_demote, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_node_rm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_ps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_inspect_pretty, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_swarm_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swarm_join_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swarm_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swarm_update_rebalance,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_sends_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_unreachable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_help_exits_zero, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
