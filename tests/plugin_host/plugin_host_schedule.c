/*
 * plugin_host_schedule.c: test driver for test_sdk_install.sh. Loads a
 * plugin directory with the plugin host, requires that nothing was refused
 * and that a scheduler plugin of the given name is loaded, sends it one
 * schedule request (a drained node and two small nodes, three tasks) and
 * checks the first-fit answer: t1 -> n2, t2 -> n3 (n2 is then too full),
 * t3 unplaced (its constraint only allows n2).
 *
 * Usage: plugin_host_schedule PLUGIN_DIR DATA_ROOT SCHEDULER_NAME
 * Exit status 0 when the answer is as expected; otherwise 1 and a message.
 */
#include "plugin_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *request_text =
	"{\"op\":\"schedule\",\"nodes\":["
	"{\"id\":\"n1\",\"state\":\"ready\",\"availability\":\"drain\","
	"\"runtimes\":[\"process\"],\"resources\":{\"memory_bytes\":1000}},"
	"{\"id\":\"n2\",\"state\":\"ready\",\"availability\":\"active\","
	"\"labels\":{\"zone\":\"eu\"},\"runtimes\":[\"process\"],"
	"\"resources\":{\"memory_bytes\":1000}},"
	"{\"id\":\"n3\",\"state\":\"ready\",\"availability\":\"active\","
	"\"runtimes\":[\"process\"],\"resources\":{\"memory_bytes\":1000}}],"
	"\"tasks\":["
	"{\"id\":\"t1\",\"service_id\":\"s\",\"runtime\":\"process\","
	"\"reservations\":{\"memory_bytes\":600}},"
	"{\"id\":\"t2\",\"service_id\":\"s\",\"runtime\":\"process\","
	"\"reservations\":{\"memory_bytes\":600}},"
	"{\"id\":\"t3\",\"service_id\":\"s\",\"runtime\":\"process\","
	"\"constraints\":[\"node.labels.zone==eu\"],"
	"\"reservations\":{\"memory_bytes\":600}}]}";

static void print_refusals(struct plugin_host *host)
{
	const char *file, *reason;
	size_t i;

	for (i = 0; i < plugin_host_refused_count(host); i++) {
		plugin_host_refused(host, i, &file, &reason);
		fprintf(stderr, "refused %s: %s\n", file, reason);
	}
}

/* Checks the reply; returns 0 when it is the expected first-fit answer. */
static int check_reply(json_t *reply)
{
	json_t *want_placed, *unplaced = json_object_get(reply, "unplaced");
	char *text = json_dumps(reply, JSON_COMPACT | JSON_SORT_KEYS);
	json_error_t jerr;
	int ok;

	printf("reply: %s\n", text ? text : "?");
	free(text);
	want_placed = json_loads("[{\"task_id\":\"t1\",\"node_id\":\"n2\"},"
				 "{\"task_id\":\"t2\",\"node_id\":\"n3\"}]",
				 0, &jerr);
	ok = json_equal(json_object_get(reply, "placements"), want_placed) &&
	     json_array_size(unplaced) == 1 &&
	     json_is_string(json_object_get(json_array_get(unplaced, 0),
					    "task_id")) &&
	     strcmp(json_string_value(json_object_get(
			    json_array_get(unplaced, 0), "task_id")),
		    "t3") == 0;
	json_decref(want_placed);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct plugin_host_options o = {0};
	struct plugin_host_plugin *scheduler;
	struct plugin_host *host;
	json_error_t jerr;
	json_t *reply;
	char err[512];
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: %s PLUGIN_DIR DATA_ROOT NAME\n",
			argv[0]);
		return 2;
	}
	o.plugin_dir = argv[1];
	o.data_root = argv[2];
	o.node_id = "n0";
	o.instance = "sdk-install";
	if (plugin_host_open(&o, &host, err, sizeof(err))) {
		fprintf(stderr, "plugin_host_open: %s\n", err);
		return 1;
	}
	print_refusals(host);
	scheduler = plugin_host_find(host, ORCH_PLUGIN_SCHEDULER, argv[3]);
	if (plugin_host_refused_count(host) != 0 || scheduler == NULL) {
		fprintf(stderr, "scheduler %s not loaded\n", argv[3]);
		plugin_host_close(host);
		return 1;
	}
	if (plugin_host_call(scheduler, json_loads(request_text, 0, &jerr),
			     10000, &reply, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		plugin_host_close(host);
		return 1;
	}
	rc = check_reply(reply);
	json_decref(reply);
	plugin_host_close(host);
	return rc;
}
