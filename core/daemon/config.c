/*
 * config.c: orchd's flags and YAML configuration file (see config.h). Owns
 * the strings it stores in struct orchd_config.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Every setting: its long flag / YAML key, short flag, and field. */
struct config_key {
	const char *name;
	char short_flag;
	size_t offset;
	bool file_allowed;
};

#define FIELD(f) offsetof(struct orchd_config, f)
static const struct config_key config_keys[] = {
	{ "plugins", 0, FIELD(plugins), true },
	{ "data-root", 0, FIELD(data_root), true },
	{ "host", 'H', FIELD(host), true },
	{ "pidfile", 'p', FIELD(pidfile), true },
	{ "log-level", 'l', FIELD(log_level), true },
	{ "log-format", 0, FIELD(log_format), true },
	{ "config-file", 0, FIELD(config_file), false },
	{ "default-runtime", 0, FIELD(default_runtime), true },
	{ "scheduler", 0, FIELD(scheduler), true },
	{ "hostname", 0, FIELD(hostname), true },
	{ "plugin-transport", 0, FIELD(plugin_transport), true },
};
#define N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static char **field(struct orchd_config *cfg, const struct config_key *k)
{
	return (char **)((char *)cfg + k->offset);
}

static void set_field(struct orchd_config *cfg, const struct config_key *k,
		      const char *value)
{
	char **f = field(cfg, k);
	free(*f);
	*f = value ? strdup(value) : NULL;
}

void config_defaults(struct orchd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->data_root = strdup("/var/lib/orchd");
	cfg->host = strdup("unix:///run/orchd/orchd.sock");
	cfg->pidfile = strdup("/run/orchd/orchd.pid");
	cfg->log_level = strdup("info");
	cfg->log_format = strdup("text");
	cfg->plugin_transport = strdup("inproc");
}

void config_free(struct orchd_config *cfg)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		free(*field(cfg, &config_keys[i]));
		*field(cfg, &config_keys[i]) = NULL;
	}
}

static const struct config_key *key_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strlen(config_keys[i].name) == len &&
		    strncmp(config_keys[i].name, name, len) == 0)
			return &config_keys[i];
	return NULL;
}

static const struct config_key *key_by_short(char c)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (config_keys[i].short_flag == c)
			return &config_keys[i];
	return NULL;
}

int config_parse_args(struct orchd_config *cfg, int argc, char **argv,
		      char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const struct config_key *k = NULL;
		const char *value = NULL;
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			cfg->help = true;
			continue;
		}
		if (strcmp(arg, "--version") == 0 || strcmp(arg, "-v") == 0) {
			cfg->version = true;
			continue;
		}
		if (strncmp(arg, "--", 2) == 0) {
			const char *eq = strchr(arg + 2, '=');
			size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
			k = key_by_name(arg + 2, len);
			value = eq ? eq + 1 : NULL;
		} else if (arg[0] == '-' && arg[1] && !arg[2]) {
			k = key_by_short(arg[1]);
		}
		if (!k) {
			snprintf(err, errlen, "unknown flag: %s (see orchd --help)", arg);
			return -1;
		}
		if (!value) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "flag needs an argument: --%s", k->name);
				return -1;
			}
			value = argv[++i];
		}
		set_field(cfg, k, value);
	}
	return 0;
}

static int yaml_fail(char *err, size_t errlen, const char *path,
		     const yaml_mark_t *mark, const char *what)
{
	snprintf(err, errlen, "%s: line %zu, column %zu: %s", path, mark->line + 1,
		 mark->column + 1, what);
	return -1;
}

/* Reads "key: scalar" pairs of the top-level mapping. */
static int config_read_yaml(struct orchd_config *cfg, yaml_parser_t *parser,
			    const char *path, char *err, size_t errlen)
{
	yaml_event_t ev;
	int depth = 0;
	const struct config_key *pending = NULL;
	for (;;) {
		if (!yaml_parser_parse(parser, &ev))
			return yaml_fail(err, errlen, path, &parser->problem_mark,
					 parser->problem ? parser->problem : "malformed YAML");
		yaml_event_type_t type = ev.type;
		int rc = 0;
		if (type == YAML_MAPPING_START_EVENT) {
			if (++depth > 1 || pending)
				rc = yaml_fail(err, errlen, path, &ev.start_mark,
					       "values must be plain scalars");
		} else if (type == YAML_SEQUENCE_START_EVENT) {
			rc = yaml_fail(err, errlen, path, &ev.start_mark,
				       "values must be plain scalars, not lists");
		} else if (type == YAML_SCALAR_EVENT && depth == 1) {
			const char *text = (const char *)ev.data.scalar.value;
			if (!pending) {
				pending = key_by_name(text, ev.data.scalar.length);
				if (!pending || !pending->file_allowed) {
					char what[300];
					snprintf(what, sizeof(what), "unknown key \"%s\"", text);
					rc = yaml_fail(err, errlen, path, &ev.start_mark, what);
				}
			} else {
				set_field(cfg, pending, text);
				pending = NULL;
			}
		} else if (type == YAML_SCALAR_EVENT) {
			rc = yaml_fail(err, errlen, path, &ev.start_mark,
				       "the file must be a mapping of keys to values");
		}
		yaml_event_delete(&ev);
		if (rc != 0)
			return rc;
		if (type == YAML_STREAM_END_EVENT)
			return 0;
	}
}

int config_load_file(struct orchd_config *cfg, const char *path, char *err,
		     size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	int rc = config_read_yaml(cfg, &parser, path, err, errlen);
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

int config_check(const struct orchd_config *cfg, char *err, size_t errlen)
{
	const char *levels[] = { "debug", "info", "warn", "error" };
	bool level_ok = false;
	for (size_t i = 0; i < 4; i++)
		level_ok |= cfg->log_level && strcmp(cfg->log_level, levels[i]) == 0;
	if (!level_ok) {
		snprintf(err, errlen, "invalid --log-level \"%s\": debug, info, warn or error",
			 cfg->log_level ? cfg->log_level : "");
		return -1;
	}
	if (!cfg->log_format || (strcmp(cfg->log_format, "text") != 0 &&
				 strcmp(cfg->log_format, "json") != 0)) {
		snprintf(err, errlen, "invalid --log-format \"%s\": text or json",
			 cfg->log_format ? cfg->log_format : "");
		return -1;
	}
	if (!cfg->host || strncmp(cfg->host, "unix://", 7) != 0 ||
	    cfg->host[7] != '/') {
		snprintf(err, errlen, "invalid --host \"%s\": only unix:///absolute/path is supported",
			 cfg->host ? cfg->host : "");
		return -1;
	}
	if (!cfg->plugins || !*cfg->plugins) {
		snprintf(err, errlen, "--plugins DIR is required (the directory of plugin shared objects)");
		return -1;
	}
	if (strcmp(cfg->plugin_transport, "inproc") != 0 &&
	    strcmp(cfg->plugin_transport, "ipc") != 0) {
		snprintf(err, errlen, "invalid --plugin-transport \"%s\": inproc or ipc",
			 cfg->plugin_transport);
		return -1;
	}
	if (!cfg->data_root || cfg->data_root[0] != '/') {
		snprintf(err, errlen, "invalid --data-root \"%s\": an absolute path is required",
			 cfg->data_root ? cfg->data_root : "");
		return -1;
	}
	return 0;
}

const char *config_socket_path(const struct orchd_config *cfg)
{
	return cfg->host + strlen("unix://");
}

void config_usage(void)
{
	printf("Usage: orchd [OPTIONS]\n\n"
	       "A Swarm-class container orchestrator daemon.\n\n"
	       "Options:\n"
	       "      --config-file FILE       YAML file with the keys below\n"
	       "      --data-root DIR          all state (default /var/lib/orchd)\n"
	       "      --default-runtime NAME   runtime for services that name none\n"
	       "                               (default: docker when it answers, else process)\n"
	       "  -H, --host unix://PATH       API socket (default unix:///run/orchd/orchd.sock)\n"
	       "      --hostname NAME          node hostname (default: the machine's)\n"
	       "  -l, --log-level LEVEL        debug, info, warn, error (default info)\n"
	       "      --log-format FORMAT      text (time=... level=... msg=...) or json (default text)\n"
	       "  -p, --pidfile FILE           (default /run/orchd/orchd.pid)\n"
	       "      --plugins DIR            directory of plugin shared objects\n"
	       "      --plugin-transport T     inproc (default) or ipc\n"
	       "      --scheduler NAME         scheduler plugin (default: the first loaded)\n"
	       "  -v, --version                print the version\n");
}
