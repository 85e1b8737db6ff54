/*
 * config.h: orchd's settings, from its flags (named like dockerd's) and
 * from an optional YAML file with the same keys (--config-file). Flags win
 * over the file. Owns the strings and JSON of a struct orchd_config.
 *
 * Plugin settings in the file:
 *   plugins: /usr/lib/orchd/plugins      # the directory (old form), or
 *   plugin-dir: /usr/lib/orchd/plugins   # the same, and then
 *   plugins:                             # options per plugin name
 *     docker: {socket: unix:///run/other/docker.sock}
 *   plugin-transport: ipc                # default for every plugin
 *   plugin-transports: {docker: inproc}  # per plugin
 * as flags: --plugins/--plugin-dir DIR, --plugin-opt docker.socket=...,
 * --plugin-transport ipc, --plugin-transport docker=inproc.
 */
#ifndef ORCHD_CONFIG_H
#define ORCHD_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct orchd_config {
	char *plugins;         /* --plugins DIR */
	char *data_root;       /* --data-root DIR */
	char *host;            /* -H/--host unix://PATH */
	char *pidfile;         /* --pidfile FILE */
	char *log_level;       /* --log-level debug|info|warn|error */
	char *log_format;      /* --log-format text|json */
	char *config_file;     /* --config-file FILE */
	char *default_runtime; /* --default-runtime NAME */
	char *scheduler;       /* --scheduler NAME */
	char *hostname;        /* --hostname NAME (test hosts on one machine) */
	char *plugin_transport;/* --plugin-transport inproc|ipc */
	json_t *plugin_options;    /* name -> {key: value} (strings) */
	json_t *plugin_transports; /* name -> "inproc" | "ipc" */
	json_t *option_texts;      /* name -> options as JSON text (cache) */
	bool help;
	bool version;
};

/* Defaults: /var/lib/orchd, unix:///run/orchd/orchd.sock,
 * /run/orchd/orchd.pid, info, ipc (each plugin in its own process). */
void config_defaults(struct orchd_config *cfg);
void config_free(struct orchd_config *cfg);

/* Parses argv into cfg (after defaults and the file). Returns 0, or -1 with
 * err naming the flag and what is wrong. */
int config_parse_args(struct orchd_config *cfg, int argc, char **argv,
		      char *err, size_t errlen);
/* Reads a YAML mapping of the same keys as the long flags ("data-root:
 * /x"). A malformed file or an unknown key fails with its line and column. */
int config_load_file(struct orchd_config *cfg, const char *path, char *err,
		     size_t errlen);
/* Checks values (log level, socket URL form, transports). */
int config_check(const struct orchd_config *cfg, char *err, size_t errlen);
/* The options of plugin name as JSON object text ("{}" when none); owned
 * by cfg. */
const char *config_plugin_options(struct orchd_config *cfg, const char *name);
/* The path in "unix://PATH". */
const char *config_socket_path(const struct orchd_config *cfg);

void config_usage(void);

#endif
