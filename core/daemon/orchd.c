/*
 * orchd.c: the daemon's entry point. Reads the configuration, makes the node
 * identity, loads the plugins, starts the manager (core thread), the agent
 * and the API server, then waits for SIGTERM/SIGINT and stops them in
 * reverse order. Owns the pidfile and the identity file; the other pieces of
 * struct orchd belong to the files named in daemon.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "fsutil.h"
#include "ids.h"

/* ------------------------------------------------------------ identity */

/* Loads data_root/identity.json, or makes it on the first start. */
static int orchd_identity(struct orchd *o, char *err, size_t errlen)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/identity.json", o->cfg.data_root);
	json_error_t jerr;
	json_t *id = json_load_file(path, 0, &jerr);
	if (!id && access(path, F_OK) == 0) {
		snprintf(err, errlen, "%s is damaged: %s", path, jerr.text);
		return -1;
	}
	if (!id) {
		char node_id[32];
		ids_new_id(NULL, node_id);
		uint64_t raft_id = 0;
		while ((raft_id >> 1) == 0)
			raft_id = ids_random(NULL);
		id = json_pack("{s:s,s:I}", "NodeID", node_id, "RaftID", (json_int_t)(raft_id >> 1));
		if (json_dump_file(id, path, JSON_COMPACT) != 0) {
			snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
			json_decref(id);
			return -1;
		}
		chmod(path, 0600);
	}
	snprintf(o->node_id, sizeof(o->node_id), "%s",
		 json_string_value(json_object_get(id, "NodeID")));
	o->raft_id = (uint64_t)json_integer_value(json_object_get(id, "RaftID"));
	json_decref(id);
	if (strlen(o->node_id) != 25 || o->raft_id == 0) {
		snprintf(err, errlen, "%s is damaged: NodeID/RaftID missing", path);
		return -1;
	}
	return 0;
}

/* Writes the pidfile, refusing when another live process holds it. */
static int orchd_pidfile(const char *path, char *err, size_t errlen)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		(void)util_mkdir_p(dir, 0755, NULL, 0); /* fopen below says why */
	}
	FILE *f = fopen(path, "r");
	if (f) {
		long pid = 0;
		if (fscanf(f, "%ld", &pid) == 1 && pid > 0 && pid != getpid() &&
		    kill((pid_t)pid, 0) == 0) {
			fclose(f);
			snprintf(err, errlen, "pid file found, ensure orchd is not running or delete %s (held by pid %ld)",
				 path, pid);
			return -1;
		}
		fclose(f);
	}
	f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "cannot write pid file %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
	return 0;
}

/* --------------------------------------------------------------- main */

/* Stops in the order that lets every waiting thread go: the manager first
 * (its pending API calls are answered, later ones refused), then the API
 * server, the agent, the plugins. */
/* Says which stage of a stop took over a second (a slow stop under load
 * is being tracked down). Returns the time now. */
static int64_t stop_stage_done(const char *stage, int64_t since_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (since_ns && now - since_ns > 1000000000LL)
		log_msg(LOG_WARN, "daemon", "stopping: %s took %lld ms", stage,
			  (long long)((now - since_ns) / 1000000));
	return now;
}

static void orchd_stop(struct orchd *o)
{
	int64_t t = stop_stage_done("", 0);
	role_keeper_signal(o);
	manager_stop(o->manager);
	t = stop_stage_done("the manager", t);
	role_keeper_join(o);
	t = stop_stage_done("the role keeper", t);
	api_http_stop(o->api);
	t = stop_stage_done("the API server", t);
	pthread_mutex_lock(&o->agent_lock); /* no more plugin events for it */
	struct agent *agent = o->agent;
	o->agent = NULL;
	pthread_mutex_unlock(&o->agent_lock);
	agent_stop(agent);
	stop_stage_done("the agent", t);
	link_close(o);
	cluster_worker_free(o->leader_link);
	o->leader_link = NULL;
	json_decref(o->node_info);
	o->node_info = NULL;
	manager_free(o->manager);
	plugin_host_close(o->plugins);
}

static int orchd_configure(struct orchd *o, int argc, char **argv, char *err,
			   size_t errlen)
{
	config_defaults(&o->cfg);
	if (config_parse_args(&o->cfg, argc, argv, err, errlen) != 0)
		return -1;
	if (o->cfg.config_file) {
		if (config_load_file(&o->cfg, o->cfg.config_file, err, errlen) != 0 ||
		    config_parse_args(&o->cfg, argc, argv, err, errlen) != 0)
			return -1;
	}
	if (o->cfg.help || o->cfg.version)
		return 0;
	if (config_check(&o->cfg, err, errlen) != 0)
		return -1;
	enum log_level level = LOG_INFO;
	enum log_format format = LOG_FORMAT_TEXT;
	if (log_level_parse(o->cfg.log_level, &level) != 0 ||
	    log_format_parse(o->cfg.log_format, &format) != 0) {
		snprintf(err, errlen, "invalid --log-level \"%s\" or --log-format \"%s\"",
			 o->cfg.log_level, o->cfg.log_format);
		return -1;
	}
	log_configure(level, format);
	if (o->cfg.hostname)
		snprintf(o->hostname, sizeof(o->hostname), "%s", o->cfg.hostname);
	else
		gethostname(o->hostname, sizeof(o->hostname) - 1);
	return 0;
}

static int orchd_start(struct orchd *o, char *err, size_t errlen,
		       bool *own_pidfile)
{
	if (util_mkdir_p(o->cfg.data_root, 0700, err, errlen) != 0)
		return -1;
	if (orchd_pidfile(o->cfg.pidfile, err, errlen) != 0)
		return -1;
	*own_pidfile = true;
	if (orchd_identity(o, err, errlen) != 0 ||
	    orchd_load_plugins(o, err, errlen) != 0)
		return -1;
	struct plugin_calls calls = { .ctx = o, .list = plugins_list, .call = plugins_call };
	struct manager_config mc = { .data_root = o->cfg.data_root,
				     .hostname = o->hostname,
				     .node_id = o->node_id,
				     .raft_id = o->raft_id,
				     .scheduler = o->cfg.scheduler,
				     .plugins = calls };
	if (manager_start(&mc, &o->manager, err, errlen) != 0)
		return -1;
	struct agent_config ac = { .node_id = o->node_id,
				   .hostname = o->hostname,
				   .default_runtime = o->cfg.default_runtime,
				   .plugins = calls,
				   .link = { .ctx = o,
					     .send = link_send,
					     .session = link_session } };
	snprintf(o->worker_dir, sizeof(o->worker_dir), "%s/swarm/worker", o->cfg.data_root);
	struct cluster_worker *w = NULL;
	if (cluster_worker_resume(o->worker_dir, o->node_id, &w, err, errlen) != 0)
		return -1;
	link_set_worker(o, w);
	struct agent *agent = NULL;
	if (agent_start(&ac, &agent, err, errlen) != 0)
		return -1;
	pthread_mutex_lock(&o->agent_lock);
	o->agent = agent;
	pthread_mutex_unlock(&o->agent_lock);
	struct api_http_config hc = { .socket_path = config_socket_path(&o->cfg),
				      .handler = orchd_api_handler,
				      .handler_ctx = o,
				      .concurrent_handlers = true };
	if (api_http_start(&hc, &o->api, err, errlen) != 0)
		return -1;
	o->cert_renew_permille = 500 + (unsigned)(ids_random(NULL) % 301);
	if (thread_start(&o->role_thread, role_main, o, "the role keeper thread",
			 err, errlen) != 0)
		return -1;
	o->role_thread_started = true;
	return 0;
}

int main(int argc, char **argv)
{
	static struct orchd o;
	char err[1024] = "";
	pthread_mutex_init(&o.link_lock, NULL);
	pthread_mutex_init(&o.agent_lock, NULL);
	pthread_cond_init(&o.link_idle, NULL);
	pthread_mutex_init(&o.info_lock, NULL);
	pthread_mutex_init(&o.leader_lock, NULL);
	latch_init(&o.role_stop);
	if (orchd_configure(&o, argc, argv, err, sizeof(err)) != 0) {
		fprintf(stderr, "orchd: %s\n", err);
		config_free(&o.cfg);
		return 1;
	}
	if (o.cfg.help || o.cfg.version) {
		if (o.cfg.help)
			config_usage();
		else
			printf("orchd version %s\n", ORCHD_VERSION);
		config_free(&o.cfg);
		return 0;
	}
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	int rc = 0;
	bool own_pidfile = false;
	if (orchd_start(&o, err, sizeof(err), &own_pidfile) != 0) {
		fprintf(stderr, "orchd: %s\n", err);
		rc = 1;
	} else {
		log_msg(LOG_INFO, "daemon", "API listening on %s; node %s (%s)",
			  o.cfg.host, o.node_id, o.hostname);
		int sig = 0;
		sigwait(&stop_signals, &sig);
		log_msg(LOG_INFO, "daemon", "signal %d: stopping (tasks keep running)", sig);
	}
	orchd_stop(&o);
	if (own_pidfile)
		unlink(o.cfg.pidfile);
	config_free(&o.cfg);
	return rc;
}
