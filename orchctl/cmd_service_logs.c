/*
 * cmd_service_logs.c: `orchctl service logs [--tail N] SERVICE|TASK`:
 * GET /services/{ref}/logs; when no service has that name, the task of
 * that ID (GET /tasks/{ref}, then /tasks/{id}/logs), its lines prefixed
 * "name.slot.task@node    | " as docker does.
 * No state of its own.
 */
#include "format.h"
#include "orchctl.h"
#include "parse.h"

#include <stdlib.h>
#include <string.h>

/* Writes a log body; lines get `prefix` unless the daemon already put one
 * ("name.slot.task@node    | ") in front of them. */
static void logs_write(struct cli *cli, const struct client_response *resp,
		       const char *prefix)
{
	bool prefixed = prefix == NULL || strstr(resp->body, "    | ") != NULL;
	if (prefixed) {
		fwrite(resp->body, 1, resp->len, cli->out);
		return;
	}
	const char *p = resp->body, *end = resp->body + resp->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		fprintf(cli->out, "%s    | %.*s%s", prefix, (int)n, p, nl ? "" : "\n");
		p += n;
	}
}

/* The prefix of a task's lines: "web.1.<task id>@<node>". */
static char *logs_task_prefix(struct cli *cli, json_t *task)
{
	json_t *hostnames = ps_hostnames(cli);
	const char *node = json_string_value(
		json_object_get(hostnames, json_path_str(task, "NodeID")));
	char *prefix = NULL;
	char *escaped = client_escape(json_path_str(task, "ServiceID"));
	char path[512];
	json_t *service = NULL;
	snprintf(path, sizeof(path), "/services/%s", escaped ? escaped : "");
	free(escaped);
	if (client_call_json(cli, "GET", path, NULL, &service, NULL) == 0) {
		char name[256];
		json_t *services = json_object();
		json_object_set(services, json_path_str(task, "ServiceID"), service);
		ps_task_name(task, services, name, sizeof(name));
		json_decref(services);
		if (asprintf(&prefix, "%s.%s@%s", name, json_path_str(task, "ID"),
			     node ? node : json_path_str(task, "NodeID")) < 0)
			prefix = NULL;
	}
	json_decref(service);
	json_decref(hostnames);
	return prefix;
}

static int logs_fetch(struct cli *cli, const char *kind, const char *ref,
		      const char *tail, struct client_response *resp)
{
	char *escaped = client_escape(ref);
	char *tail_escaped = client_escape(tail);
	char *path = NULL;
	int rc = -1;
	if (escaped && tail_escaped &&
	    asprintf(&path, "/%s/%s/logs?stdout=1&stderr=1&tail=%s", kind,
		     escaped, tail_escaped) >= 0)
		rc = client_request(cli, "GET", path, NULL, resp);
	else
		fprintf(cli->err, "Error: out of memory\n");
	free(path);
	free(escaped);
	free(tail_escaped);
	return rc;
}

/* GET /tasks/{ref} without printing errors: NULL when there is no such
 * task (or the daemon cannot tell). */
static json_t *logs_find_task(struct cli *cli, const char *ref)
{
	char *escaped = client_escape(ref);
	char *path = NULL;
	struct client_response resp;
	json_t *task = NULL;
	if (escaped != NULL && asprintf(&path, "/tasks/%s", escaped) >= 0 &&
	    client_request(cli, "GET", path, NULL, &resp) == 0) {
		if (resp.status == 200)
			task = json_loadb(resp.body, resp.len, 0, NULL);
		client_response_free(&resp);
	}
	free(path);
	free(escaped);
	if (!json_is_object(task)) {
		json_decref(task);
		return NULL;
	}
	return task;
}

static int logs_of_task(struct cli *cli, const char *ref, const char *tail,
			const struct client_response *service_resp)
{
	struct client_response resp;
	json_t *task = logs_find_task(cli, ref);
	if (task == NULL) {
		/* Neither a service nor a task: the service error says it best. */
		client_print_daemon_error(cli, service_resp);
		return 1;
	}
	char *prefix = logs_task_prefix(cli, task);
	int rc = 1;
	if (logs_fetch(cli, "tasks", json_path_str(task, "ID"), tail, &resp) == 0) {
		if (resp.status >= 200 && resp.status < 300) {
			logs_write(cli, &resp,
				   prefix ? prefix : json_path_str(task, "ID"));
			rc = 0;
		} else {
			client_print_daemon_error(cli, &resp);
		}
		client_response_free(&resp);
	}
	free(prefix);
	json_decref(task);
	return rc;
}

/* --tail: "all" or a number of lines. */
int service_logs_flag(struct cli *cli, int opt, const char *value, void *arg)
{
	char reason[PARSE_ERR_LEN];
	uint64_t lines;
	(void)opt;
	if (strcmp(value, "all") != 0 &&
	    parse_uint64(value, &lines, reason, sizeof(reason)) != 0)
		return cli_flag_error(cli, "service logs", "--tail", value, reason);
	*(const char **)arg = value;
	return 0;
}

int service_logs(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	const char *tail = "all";
	int rc = cli_parse(cli, cmd, argc, argv, &tail);
	if (rc != CLI_GO_ON)
		return rc;
	struct client_response resp;
	if (logs_fetch(cli, "services", argv[optind], tail, &resp) != 0)
		return 1;
	if (resp.status >= 200 && resp.status < 300) {
		logs_write(cli, &resp, NULL);
		rc = 0;
	} else if (resp.status == 404) {
		rc = logs_of_task(cli, argv[optind], tail, &resp);
	} else {
		client_print_daemon_error(cli, &resp);
		rc = 1;
	}
	client_response_free(&resp);
	return rc;
}
