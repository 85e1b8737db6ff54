/*
 * parse.h: orchctl's parsers of flag values and arguments, checked before
 * anything is sent to the daemon.
 *
 * Every parser takes the text as typed, writes the parsed value to *out and
 * returns 0, or returns -1 and writes a one-line reason to err (the caller
 * adds "invalid argument "VALUE" for "--FLAG" flag: "). The syntaxes are
 * docker's: Go durations (300ms, 1.5s, 1m30s, 2h), docker memory sizes
 * (512m, 1g, 1.5GiB: binary units), CPU decimals (0.5 = 500000000 nano
 * CPUs), swarm placement constraints, --mount CSV fields.
 * The parsers own no state; strings they return are malloc'd for the caller.
 */
#ifndef ORCHCTL_PARSE_H
#define ORCHCTL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PARSE_ERR_LEN 256

/* Formats into err (when err_len > 0) and returns -1: "return
 * parse_fail(err, len, ...)" ends a failing parser. */
int parse_fail(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 0 when text is one of words (NULL-terminated), else parse_fail with
 * refusal, a format whose one %s is text. */
int parse_word(const char *text, const char *const *words, char *err,
	       size_t err_len, const char *refusal);
/* Go's strconv.ParseUint(s, 10, 64), with its error texts. */
int parse_uint64(const char *text, uint64_t *out, char *err, size_t err_len);

/* A Go duration string, non-negative, in nanoseconds. */
int parse_duration_ns(const char *text, int64_t *out, char *err, size_t err_len);

/* A docker memory size (units.RAMInBytes): "1024", "512m", "1.5GiB",
 * "64 kb"; k/m/g/t/p are powers of 1024. */
int parse_memory_bytes(const char *text, int64_t *out, char *err, size_t err_len);

/* A non-negative CPU count as a decimal, in nano CPUs (at most 9 places). */
int parse_nano_cpus(const char *text, int64_t *out, char *err, size_t err_len);

enum parse_service_mode {
	PARSE_MODE_REPLICATED,
	PARSE_MODE_GLOBAL,
};

/* "replicated" or "global". */
int parse_service_mode(const char *text, enum parse_service_mode *out,
		       char *err, size_t err_len);

/* "none", "on-failure" or "any". */
int parse_restart_condition(const char *text, char *err, size_t err_len);

/* Go's strconv.ParseBool: 1, t, T, TRUE, true, True and their false
 * counterparts 0, f, F, FALSE, false, False (docker's bool flags). */
int parse_bool(const char *text, bool *out, char *err, size_t err_len);

/* --update-failure-action: "pause", "continue" or "rollback". */
int parse_failure_action(const char *text, char *err, size_t err_len);

/* --update-order: "stop-first" or "start-first". */
int parse_update_order(const char *text, char *err, size_t err_len);

/* --update-max-failure-ratio: a decimal number from 0 to 1. */
int parse_failure_ratio(const char *text, double *out, char *err, size_t err_len);

/* --args: shell-like words: a 'b c' d\ e gives "a", "b c", "d e". Blanks
 * separate words, single quotes keep everything, double quotes keep all
 * but backslash escapes, a backslash outside quotes escapes the next
 * character. *words is a malloc'd array of *count malloc'd strings; free
 * it with parse_words_free. */
int parse_shell_words(const char *text, char ***words, size_t *count, char *err,
		      size_t err_len);
void parse_words_free(char **words, size_t count);

/* "KEY==VALUE" or "KEY!=VALUE" (spaces around the operator allowed); KEY
 * of letters, digits, '_', '.', '-'. Exactly one operator. */
int parse_constraint(const char *text, char *err, size_t err_len);

struct parse_mount {
	char *type;   /* "bind", "volume" or "tmpfs" */
	char *source; /* NULL when not given */
	char *target;
	bool readonly;
};

/* "type=bind,source=/a,target=/b[,readonly]": keys type, source|src,
 * target|dst|destination, readonly|ro[=true|false|1|0]. Bind mounts need an
 * absolute source; every mount needs an absolute target. */
int parse_mount(const char *text, struct parse_mount *out, char *err, size_t err_len);
void parse_mount_free(struct parse_mount *mount);

/* "KEY=VALUE" or "KEY" (value NULL): label and env syntax; KEY non-empty and
 * without whitespace. *key (and *value) are malloc'd. */
int parse_key_value(const char *text, char **key, char **value, char *err,
		    size_t err_len);

/* The --env value as sent: "K=V" as is; a bare "K" takes K's value from the
 * environment of orchctl when set (docker's rule). Malloc'd. */
int parse_env(const char *text, char **out, char *err, size_t err_len);

/* "SERVICE=REPLICAS" of `service scale`. *service is malloc'd. */
int parse_scale_spec(const char *text, char **service, uint64_t *replicas,
		     char *err, size_t err_len);

/* A docker-style service name: 1..63 of letters, digits, '-', '_', starting
 * and ending with a letter or digit. */
int parse_service_name(const char *text, char *err, size_t err_len);

/* "-f/--filter KEY=VALUE" of `service ps`: keys id, name, node, label,
 * desired-state (running|shutdown|accepted). *key, *value malloc'd. */
int parse_task_filter(const char *text, char **key, char **value, char *err,
		      size_t err_len);

/* Node availability of `node update --availability` (and `swarm join`):
 * "active", "pause" or "drain". */
int parse_node_availability(const char *text, char *err, size_t err_len);

/* Node role of `node update --role` and `swarm join-token`: "worker" or
 * "manager". */
int parse_node_role(const char *text, char *err, size_t err_len);

/* "KEY=VALUE" of `node update --label-add`: the '=' is required, VALUE may
 * be empty; KEY non-empty, without whitespace. *key, *value malloc'd. */
int parse_label(const char *text, char **key, char **value, char *err, size_t err_len);

/* The HOST:PORT argument of `swarm join`: HOST non-empty without spaces
 * (an IPv6 address in brackets: "[::1]:2377"), PORT 1..65535. */
int parse_host_port(const char *text, char *err, size_t err_len);

/* A swarm join token: "SWMTKN-1-<digest>-<secret>", digest and secret
 * non-empty runs of base36 digits (0-9, a-z). */
int parse_join_token(const char *text, char *err, size_t err_len);

/* "unix:///path/to.sock" -> "/path/to.sock" (malloc'd). Only unix sockets. */
int parse_host(const char *text, char **socket_path, char *err, size_t err_len);

/* An RFC 3339 timestamp as the daemon writes them
 * ("2024-05-01T10:00:00.123456789Z", or with a "+02:00" offset) in seconds
 * since the epoch. */
int parse_rfc3339(const char *text, int64_t *out_seconds, char *err, size_t err_len);

#endif
