/*
 * config.c: orchd's flags and YAML configuration file (see config.h). Owns
 * the strings and JSON it stores in struct orchd_config. The file is read
 * as a YAML document and walked: top-level scalars, and the two mappings
 * of plugin settings (`plugins` when it is a mapping, `plugin-transports`).
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
	{ "plugin-dir", 0, FIELD(plugins), true },
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
	/* Repeatable; parsed, not stored as a string (config_parse_args). */
	{ "plugin-opt", 0, FIELD(plugin_options), false },
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
	cfg->plugin_transport = strdup("ipc");
	cfg->plugin_options = json_object();
	cfg->plugin_transports = json_object();
	cfg->option_texts = json_object();
}

/* The keys whose field is a string (not --plugin-opt's JSON). */
static bool key_is_string(const struct config_key *k)
{
	return k->offset != FIELD(plugin_options);
}

void config_free(struct orchd_config *cfg)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!key_is_string(&config_keys[i]))
			continue;
		free(*field(cfg, &config_keys[i]));
		*field(cfg, &config_keys[i]) = NULL;
	}
	json_decref(cfg->plugin_options);
	json_decref(cfg->plugin_transports);
	json_decref(cfg->option_texts);
	cfg->plugin_options = cfg->plugin_transports = cfg->option_texts = NULL;
}

/* Sets option key of plugin name to value. */
/* The options object of plugin name in cfg, made when new. */
static json_t *plugin_options_of(struct orchd_config *cfg, const char *name)
{
	json_t *options = json_object_get(cfg->plugin_options, name);
	if (!options) {
		options = json_object();
		json_object_set_new(cfg->plugin_options, name, options);
	}
	return options;
}

static void set_plugin_option(struct orchd_config *cfg, const char *name,
			      size_t name_len, const char *key, const char *value)
{
	char plugin[64];
	snprintf(plugin, sizeof(plugin), "%.*s", (int)name_len, name);
	json_object_set_new(plugin_options_of(cfg, plugin), key, json_string(value));
}

/* --plugin-opt NAME.KEY=VALUE */
static int parse_plugin_opt(struct orchd_config *cfg, const char *arg, char *err,
			    size_t errlen)
{
	const char *dot = strchr(arg, '.');
	const char *eq = dot ? strchr(dot, '=') : NULL;
	if (!dot || dot == arg || !eq || eq == dot + 1 || dot - arg >= 64) {
		snprintf(err, errlen, "invalid --plugin-opt \"%s\": want NAME.KEY=VALUE "
			 "(e.g. docker.socket=unix:///run/docker.sock)", arg);
		return -1;
	}
	char key[256];
	snprintf(key, sizeof(key), "%.*s", (int)(eq - dot - 1), dot + 1);
	set_plugin_option(cfg, arg, (size_t)(dot - arg), key, eq + 1);
	return 0;
}

/* --plugin-transport T (every plugin) or NAME=T (one). */
static void parse_plugin_transport(struct orchd_config *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq) {
		free(cfg->plugin_transport);
		cfg->plugin_transport = strdup(arg);
		return;
	}
	char name[64];
	snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
	json_object_set_new(cfg->plugin_transports, name, json_string(eq + 1));
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
		if (k->offset == FIELD(plugin_options)) {
			if (parse_plugin_opt(cfg, value, err, errlen) != 0)
				return -1;
		} else if (k->offset == FIELD(plugin_transport)) {
			parse_plugin_transport(cfg, value);
		} else {
			set_field(cfg, k, value);
		}
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

static int node_fail(char *err, size_t errlen, const char *path,
		     const yaml_node_t *node, const char *fmt, const char *arg)
{
	char what[300];
	snprintf(what, sizeof(what), fmt, arg);
	return yaml_fail(err, errlen, path, &node->start_mark, what);
}

static const char *scalar(const yaml_node_t *node)
{
	return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value
						      : NULL;
}

/* Sets into[KEY] = VALUE for each KEY: VALUE of map; 0, or -1 with *bad
 * the key of the first pair that is not two scalars. */
static int scalar_pairs_into(json_t *into, yaml_document_t *doc, yaml_node_t *map,
			     yaml_node_t **bad)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *key = yaml_document_get_node(doc, p->key);
		const char *value = scalar(yaml_document_get_node(doc, p->value));
		if (!scalar(key) || !value) {
			*bad = key;
			return -1;
		}
		json_object_set_new(into, scalar(key), json_string(value));
	}
	return 0;
}

/* `plugins:` as a mapping: NAME: {KEY: VALUE, ...}. */
static int read_plugin_options(struct orchd_config *cfg, yaml_document_t *doc,
			       yaml_node_t *map, const char *path, char *err, size_t errlen)
{
	yaml_node_t *bad = NULL;

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *name = yaml_document_get_node(doc, p->key);
		yaml_node_t *options = yaml_document_get_node(doc, p->value);
		if (!scalar(name) || !options || options->type != YAML_MAPPING_NODE)
			return node_fail(err, errlen, path, name,
					 "plugins: want a directory, or plugin names each "
					 "with a mapping of options%s", "");
		if (options->data.mapping.pairs.start == options->data.mapping.pairs.top)
			continue; /* no options: as if not named */
		if (scalar_pairs_into(plugin_options_of(cfg, scalar(name)), doc,
				      options, &bad) != 0)
			return node_fail(err, errlen, path, bad,
					 "plugins: %s: options must be KEY: VALUE scalars",
					 scalar(name));
	}
	return 0;
}

/* `plugin-transports: {NAME: inproc|ipc}`. */
static int read_plugin_transports(struct orchd_config *cfg, yaml_document_t *doc,
				  yaml_node_t *map, const char *path, char *err,
				  size_t errlen)
{
	yaml_node_t *bad = NULL;

	if (map->type != YAML_MAPPING_NODE)
		return node_fail(err, errlen, path, map,
				 "plugin-transports: want a mapping of plugin names to "
				 "inproc or ipc%s", "");
	if (scalar_pairs_into(cfg->plugin_transports, doc, map, &bad) != 0)
		return node_fail(err, errlen, path, bad,
				 "plugin-transports: want NAME: inproc|ipc%s", "");
	return 0;
}

/* One top-level "key: value" of the file. */
static int read_setting(struct orchd_config *cfg, yaml_document_t *doc,
			yaml_node_t *key, yaml_node_t *value, const char *path,
			char *err, size_t errlen)
{
	const char *name = scalar(key);
	if (!name)
		return node_fail(err, errlen, path, key, "keys must be plain scalars%s", "");
	if (strcmp(name, "plugins") == 0 && value->type == YAML_MAPPING_NODE)
		return read_plugin_options(cfg, doc, value, path, err, errlen);
	if (strcmp(name, "plugin-transports") == 0)
		return read_plugin_transports(cfg, doc, value, path, err, errlen);
	const struct config_key *k = key_by_name(name, strlen(name));
	if (!k || !k->file_allowed)
		return node_fail(err, errlen, path, key, "unknown key \"%s\"", name);
	if (!scalar(value))
		return node_fail(err, errlen, path, value,
				 "%s: values must be plain scalars, not lists or mappings",
				 name);
	set_field(cfg, k, scalar(value));
	return 0;
}

/* Reads the file's top-level mapping. */
static int config_read_yaml(struct orchd_config *cfg, yaml_parser_t *parser,
			    const char *path, char *err, size_t errlen)
{
	yaml_document_t doc;
	if (!yaml_parser_load(parser, &doc))
		return yaml_fail(err, errlen, path, &parser->problem_mark,
				 parser->problem ? parser->problem : "malformed YAML");
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	int rc = 0;
	if (root && root->type != YAML_MAPPING_NODE)
		rc = node_fail(err, errlen, path, root,
			       "the file must be a mapping of keys to values%s", "");
	for (yaml_node_pair_t *p = root && rc == 0 ? root->data.mapping.pairs.start : NULL;
	     p && p < root->data.mapping.pairs.top && rc == 0; p++)
		rc = read_setting(cfg, &doc, yaml_document_get_node(&doc, p->key),
				  yaml_document_get_node(&doc, p->value), path, err, errlen);
	yaml_document_delete(&doc);
	return rc;
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
	const char *name;
	json_t *t;
	json_object_foreach(cfg->plugin_transports, name, t) {
		const char *v = json_string_value(t);
		if (!*name || !v || (strcmp(v, "inproc") != 0 && strcmp(v, "ipc") != 0)) {
			snprintf(err, errlen,
				 "invalid transport \"%s\" for plugin \"%s\": inproc or ipc",
				 v ? v : "", name);
			return -1;
		}
	}
	if (!cfg->data_root || cfg->data_root[0] != '/') {
		snprintf(err, errlen, "invalid --data-root \"%s\": an absolute path is required",
			 cfg->data_root ? cfg->data_root : "");
		return -1;
	}
	return 0;
}

const char *config_plugin_options(struct orchd_config *cfg, const char *name)
{
	json_t *text = json_object_get(cfg->option_texts, name);
	if (!text) {
		json_t *options = json_object_get(cfg->plugin_options, name);
		char *dumped = options ? json_dumps(options, JSON_COMPACT) : NULL;
		text = json_string(dumped ? dumped : "{}");
		free(dumped);
		json_object_set_new(cfg->option_texts, name, text);
	}
	return json_string_value(text);
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
	       "                               (also --plugin-dir; file: plugin-dir: or plugins: DIR)\n"
	       "      --plugin-opt NAME.KEY=VALUE\n"
	       "                               an option of plugin NAME, repeatable (file:\n"
	       "                               plugins: {NAME: {KEY: VALUE}}); a key the plugin\n"
	       "                               does not declare, or a plugin not loaded, is an error\n"
	       "      --plugin-transport [NAME=]T\n"
	       "                               ipc (default: each plugin in its own process,\n"
	       "                               restarted when it crashes or hangs) or inproc\n"
	       "                               (inside orchd: a little faster, but a plugin's crash\n"
	       "                               is orchd's); NAME= for one plugin, repeatable (file:\n"
	       "                               plugin-transport: T, plugin-transports: {NAME: T})\n"
	       "      --scheduler NAME         scheduler plugin (default: the first loaded)\n"
	       "  -v, --version                print the version\n");
}
