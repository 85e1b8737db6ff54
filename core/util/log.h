/*
 * log.h: orchd's one log. Every line carries an RFC 3339 UTC timestamp with
 * microseconds, a level and the component that speaks (a room of core/, or
 * a plugin's name), in dockerd's text form
 *   time="2026-12-04T16:50:01.123456Z" level=info component=manager msg="..."
 * or, with --log-format json, one JSON object a line with the same keys.
 * Owns the process-wide level and format (set once at start, before threads
 * run; read-only after) and writes each line with one write(2) to stderr.
 */
#ifndef ORCHD_LOG_H
#define ORCHD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

/* Sets the level and format; call before other threads log. */
void log_configure(enum log_level level, enum log_format format);
/* "error|warn|info|debug" and "text|json"; 0, or -1 when unknown. */
int log_level_parse(const char *name, enum log_level *out);
int log_format_parse(const char *name, enum log_format *out);
const char *log_level_name(enum log_level level);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, const char *component, const char *fmt, va_list ap);

/* The pure part, for tests: formats one line (with its newline) of a
 * message at wall time unix_ns into buf; returns its length (cut to fit,
 * still ending in a newline). */
size_t log_format_line(char *buf, size_t len, enum log_format format, int64_t unix_ns,
		       enum log_level level, const char *component, const char *msg);

#endif
