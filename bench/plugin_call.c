/*
 * plugin_call.c: what one plugin call costs, in-process and out of
 * process. Loads the directory of one plugin (the test plugin, whose
 * "info" is a small reply built in memory) with the plugin host, once per
 * transport, and makes N sequential "info" calls through plugin_host_call;
 * prints calls/s and the p50 and p99 latency in microseconds.
 *
 *   plugin-call [N]   (default 20000; run from anywhere: the plugin
 *                     directory and orchd-plugin are compiled in)
 *
 * State: one host at a time, its data root (test_tmpdir_make, removed at
 * the end) and the latencies of one run.
 */
#include "plugin_host.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if !defined(BENCH_PLUGIN_DIR) || !defined(BENCH_RUNNER)
#error "BENCH_PLUGIN_DIR and BENCH_RUNNER must be set"
#endif

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int compare_ns(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void quiet_log(enum orch_log_level level, const char *plugin_name,
		      const char *fmt, ...)
{
	(void)level;
	(void)plugin_name;
	(void)fmt;
}

/* N info calls over transport; 0, or -1 after printing why. */
static int run(enum plugin_host_transport transport, const char *name,
	       long n, int64_t *lat)
{
	char root[64], err[512] = "";
	struct plugin_host_options o;
	struct plugin_host *host = NULL;
	int64_t start, total;
	json_t *reply;
	long i;

	if (test_tmpdir_make(root, sizeof(root), "bench-plugin") != 0) {
		perror("plugin-call: mkdtemp");
		return -1;
	}
	o = (struct plugin_host_options){.plugin_dir = BENCH_PLUGIN_DIR,
					 .data_root = root,
					 .node_id = "bench",
					 .instance = "bench",
					 .transport = transport,
					 .runner = BENCH_RUNNER,
					 .log = quiet_log};
	if (plugin_host_open(&o, &host, err, sizeof(err)) != 0 ||
	    plugin_host_count(host) != 1) {
		fprintf(stderr, "plugin-call: %s: %s\n", name,
			err[0] ? err : "the bench plugin was not loaded");
		plugin_host_close(host);
		return -1;
	}
	start = now_ns();
	for (i = 0; i < n; i++) {
		int64_t t = now_ns();

		if (plugin_host_call(plugin_host_get(host, 0),
				     json_pack("{s:s}", "op", "info"), 10000,
				     &reply, err, sizeof(err)) != 0) {
			fprintf(stderr, "plugin-call: %s: %s\n", name, err);
			break;
		}
		lat[i] = now_ns() - t;
		json_decref(reply);
	}
	total = now_ns() - start;
	plugin_host_close(host);
	if (test_tmpdir_remove(root) != 0)
		fprintf(stderr, "plugin-call: cannot remove %s\n", root);
	if (i < n)
		return -1;
	qsort(lat, (size_t)n, sizeof(*lat), compare_ns);
	printf("%-7s %8ld calls  %9.0f calls/s  p50 %7.1f us  p99 %7.1f us\n",
	       name, n, (double)n * 1e9 / (double)total,
	       (double)lat[n / 2] / 1e3, (double)lat[n * 99 / 100] / 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	int64_t *lat;
	int rc;

	if (n < 100) {
		fprintf(stderr, "usage: plugin-call [N >= 100]\n");
		return 2;
	}
	lat = calloc((size_t)n, sizeof(*lat));
	if (lat == NULL)
		return 1;
	rc = run(PLUGIN_HOST_INPROC, "inproc", n, lat) ||
	     run(PLUGIN_HOST_IPC, "ipc", n, lat);
	free(lat);
	return rc ? 1 : 0;
}
