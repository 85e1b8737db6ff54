/*
 * daemon_routes.c: the API handler of the daemon: routes each request to the
 * worker's own answers, to the log collector, to the leader (a write on a
 * follower) or into the manager's inbox. Owns nothing.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

/* ---------------------------------------------------------------- API */

/* Logs are the one request answered outside the core thread: the manager
 * names the tasks, the agent reads their output from the runtime. */
static void orchd_api_logs(struct orchd *o, const char *ref,
			   const struct api_request *req, struct api_response *resp)
{
	struct inbox_call call;
	json_t *ask = json_pack("{s:s,s:s}", "op", "log_targets", "ref", ref);
	inbox_call_init(&call, ask);
	int rc = inbox_call(manager_inbox(o->manager), INBOX_CALL, NULL, &call);
	json_t *targets = call.response;
	inbox_call_fini(&call);
	json_decref(ask);
	if (rc != 0) {
		api_response_error(resp, 503, "orchd is shutting down");
		json_decref(targets);
		return;
	}
	const char *e = json_string_value(json_object_get(targets, "error"));
	if (e) {
		api_response_error(resp, 404, "%s: %s", ref, e);
		json_decref(targets);
		return;
	}
	const char *tail = api_request_query(req, "tail");
	long tail_n = tail && strcmp(tail, "all") != 0 ? strtol(tail, NULL, 10) : -1;
	char *out = NULL;
	size_t out_len = 0;
	FILE *mem = open_memstream(&out, &out_len);
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(targets, "tasks"), i, t) {
		if (strcmp(json_string_value(json_object_get(t, "node")), o->node_id) != 0)
			continue;
		json_t *q = json_pack("{s:O,s:I}", "task_id", json_object_get(t, "task_id"),
				      "tail", (json_int_t)tail_n);
		struct inbox_call lc;
		inbox_call_init(&lc, q);
		if (inbox_call(agent_inbox(o->agent), INBOX_CALL, NULL, &lc) != 0)
			fprintf(mem, "%s: the agent is stopping\n",
				json_string_value(json_object_get(t, "name")));
		json_t *r = lc.response;
		inbox_call_fini(&lc);
		json_decref(q);
		const char *data = json_string_value(json_object_get(r, "data"));
		char *copy = strdup(data ? data : "");
		for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(mem, "%s@%s    | %s\n", json_string_value(json_object_get(t, "name")),
				json_string_value(json_object_get(t, "hostname")), line);
		free(copy);
		json_decref(r);
	}
	fclose(mem);
	api_response_set(resp, 200, "text/plain; charset=utf-8", out, out_len);
	free(out);
	json_decref(targets);
}

/* Whether path is PREFIX{ref}/logs; copies ref. */
static bool logs_path(const char *path, const char *prefix, char *ref,
		      size_t reflen)
{
	size_t plen = strlen(prefix);
	if (strncmp(path, prefix, plen) != 0)
		return false;
	const char *rest = path + plen;
	const char *slash = strchr(rest, '/');
	if (!slash || slash == rest || strcmp(slash, "/logs") != 0 ||
	    (size_t)(slash - rest) >= reflen)
		return false;
	memcpy(ref, rest, (size_t)(slash - rest));
	ref[slash - rest] = '\0';
	return true;
}

/* A write on a manager that is not the raft leader goes to the leader,
 * which runs it; true when handled here. Joining, leaving and init stay
 * local. */
static bool orchd_forward_write(struct orchd *o, const struct api_request *req,
				struct api_response *resp)
{
	if (strcmp(req->method, "POST") != 0 && strcmp(req->method, "DELETE") != 0)
		return false;
	if (strncmp(req->path, "/swarm/join", 11) == 0 ||
	    strcmp(req->path, "/swarm/leave") == 0 || strcmp(req->path, "/swarm/init") == 0)
		return false;
	json_t *state = orchd_manager_call(o, json_pack("{s:s}", "op", "raft_state"));
	const char *leader = json_string_value(json_object_get(state, "leader_addr"));
	bool forward = state && !json_is_true(json_object_get(state, "leader")) && leader &&
		       *leader && json_is_true(json_object_get(state, "member"));
	if (forward) {
		char dir[700], err[512];
		snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
		if (cluster_forward_api(dir, leader, req, resp, err, sizeof(err)) != 0)
			api_response_error(resp, 503, "%s; retry", err);
	}
	json_decref(state);
	return forward;
}

void orchd_api_handler(void *ctx, const struct api_request *req,
			      struct api_response *resp)
{
	struct orchd *o = ctx;
	char ref[256];
	if (orchd_api_worker(o, req, resp))
		return;
	if (strcmp(req->method, "GET") == 0 &&
	    (logs_path(req->path, "/services/", ref, sizeof(ref)) ||
	     logs_path(req->path, "/tasks/", ref, sizeof(ref)))) {
		orchd_api_logs(o, ref, req, resp);
		return;
	}
	if (orchd_forward_write(o, req, resp))
		return;
	struct api_call ac = { .req = req, .resp = resp };
	struct inbox_call call;
	inbox_call_init(&call, &ac);
	if (inbox_call(manager_inbox(o->manager), INBOX_API, NULL, &call) != 0)
		api_response_error(resp, 503, "orchd is shutting down");
	inbox_call_fini(&call);
}
