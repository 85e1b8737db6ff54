/*
 * plugin_runner.c: orchd-plugin, the process a plugin runs in under the
 * ipc transport. orchd starts `orchd-plugin FILE` with its stdin and fd 3
 * on pipes (protocol: plugin_child.c); the runner dlopens FILE, checks the
 * descriptor as the host does for in-process plugins (plugin_check.c),
 * says hello, waits for the start line, calls init with the ipc:// URLs,
 * data dir, node id and options it carries, and serves until its stdin
 * closes or SIGTERM/SIGINT arrives; then fini, exit 0. A plugin's crash is
 * this process's crash, which the host reports and restarts.
 *
 * State: the plugin's handle, descriptor and state, the orch_host it was
 * given and the start line its strings point into; the report pipe and the
 * lock that keeps the plugin's log lines whole.
 */
#include "plugin_check.h"
#include "orch_sdk.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps liborch-sdk loaded in this binary (the linker drops a library no
 * code calls): plugins link it, but one built out of tree with pkg-config
 * carries no path to it and finds it only because it is already here. */
__attribute__((used)) static void *const sdk_anchor = (void *)orch_sdk_error;
#include <sys/signalfd.h>
#include <unistd.h>

#define RUNNER_REPORT_FD 3
#define RUNNER_LINE_MAX (1 << 20)

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

#ifdef __SANITIZE_ADDRESS__
/* In a sanitizer build a plugin's segfault still ends this process by the
 * signal, so that orchd reports and restarts it as in any other build. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0";
}
#endif

/* Writes one JSON line to the host; steals msg. A host that is gone is
 * not an error here: stdin's end of file stops us. */
static void report(json_t *msg)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	size_t len, done = 0;
	ssize_t n;

	json_decref(msg);
	if (text == NULL)
		return;
	len = strlen(text);
	text[len] = '\0';
	pthread_mutex_lock(&report_lock);
	while (done < len) {
		n = write(RUNNER_REPORT_FD, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done == len)
		while (write(RUNNER_REPORT_FD, "\n", 1) < 0 && errno == EINTR)
			;
	pthread_mutex_unlock(&report_lock);
	free(text);
}

static void refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void refuse(const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	report(json_pack("{s:s}", "refused", why));
}

/* orch_host.log: a line to the host, which logs it under the plugin. */
static void runner_log(enum orch_log_level level, const char *plugin_name,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void runner_log(enum orch_log_level level, const char *plugin_name,
		       const char *fmt, ...)
{
	char line[4000];
	va_list ap;

	(void)plugin_name;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (level > ORCH_LOG_DEBUG)
		level = ORCH_LOG_DEBUG;
	report(json_pack("{s:i, s:s}", "log", (int)level, "msg", line));
}

/* Loads file and checks its descriptor; NULL after a refusal. */
static const struct orch_plugin *load(const char *file)
{
	const struct orch_plugin *(*entry)(void);
	const struct orch_plugin *desc;
	const char *problem;
	char why[512];
	void *handle;

	handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL) {
		refuse("cannot load: %s", dlerror());
		return NULL;
	}
	*(void **)&entry = dlsym(handle, ORCH_PLUGIN_ENTRY_SYMBOL);
	if (entry == NULL) {
		refuse("no symbol %s (not an orchd plugin)",
		       ORCH_PLUGIN_ENTRY_SYMBOL);
		return NULL;
	}
	desc = entry();
	problem = plugin_check_descriptor(desc, why, sizeof(why));
	if (problem != NULL) {
		refuse("%s", problem);
		return NULL;
	}
	report(json_pack("{s:{s:s, s:i, s:s, s:o}}", "hello", "name",
			 desc->name, "kind", (int)desc->kind, "version",
			 desc->version ? desc->version : "", "options",
			 plugin_check_accepted(desc)));
	return desc;
}

/* Reads the start line from stdin: its "start" object, or NULL at end of
 * file (the host refused the plugin) or on garbage. */
static json_t *read_start(void)
{
	static char line[RUNNER_LINE_MAX];
	size_t len = 0;
	json_error_t jerr;
	json_t *msg, *start;
	ssize_t n;

	while (len < sizeof(line) - 1) {
		n = read(STDIN_FILENO, line + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	msg = json_loads(line, 0, &jerr);
	start = json_incref(json_object_get(msg, "start"));
	json_decref(msg);
	if (!json_is_object(start)) {
		json_decref(start);
		refuse("the host's start line is not {\"start\":{...}}");
		return NULL;
	}
	return start;
}

static const char *field(json_t *start, const char *key)
{
	const char *value = json_string_value(json_object_get(start, key));

	return value ? value : "";
}

/* Blocks until stdin closes or a stop signal arrives. */
static void serve(int signals)
{
	struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
				{.fd = signals, .events = POLLIN}};
	char buf[256];

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (fds[1].revents)
			return;
		if (fds[0].revents && read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
			return;
	}
}

/* Starts the plugin as the start line says, serves, stops it. */
static int run(const struct orch_plugin *desc, json_t *start, int signals)
{
	char why[1024] = "", *config;
	struct orch_host host;
	void *state = NULL;

	config = json_dumps(json_object_get(start, "config"), JSON_COMPACT);
	host = (struct orch_host){
		.version = ORCH_PLUGIN_ABI_VERSION,
		.plugin_name = desc->name,
		.request_url = field(start, "request_url"),
		.event_url = field(start, "event_url"),
		.node_id = field(start, "node_id"),
		.data_dir = field(start, "data_dir"),
		.config_json = config ? config : "{}",
		.log = runner_log,
	};
	if (desc->init(&host, &state, why, sizeof(why)) != 0) {
		refuse("init failed: %s", why[0] ? why : "(no reason given)");
		free(config);
		return 1;
	}
	report(json_pack("{s:b}", "ready", 1));
	serve(signals);
	desc->fini(state);
	free(config);
	return 0;
}

int main(int argc, char **argv)
{
	const struct orch_plugin *desc;
	sigset_t stop;
	json_t *start;
	int signals, rc;

	if (argc != 2 || fcntl(RUNNER_REPORT_FD, F_GETFD) < 0) {
		fprintf(stderr,
			"usage: orchd-plugin FILE (started by orchd "
			"--plugin-transport ipc, with its reports on fd %d)\n",
			RUNNER_REPORT_FD);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	/* Blocked before the plugin makes threads, so that they inherit it. */
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signals = signalfd(-1, &stop, SFD_CLOEXEC);
	if (signals < 0) {
		refuse("signalfd: %s", strerror(errno));
		return 1;
	}
	desc = load(argv[1]);
	if (desc == NULL)
		return 1;
	start = read_start();
	if (start == NULL)
		return 0; /* refused by the host */
	rc = run(desc, start, signals);
	json_decref(start);
	close(signals);
	return rc;
}
