/*
 * log.c: see log.h. Owns the process-wide level and format.
 */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_threshold = LOG_INFO;
static enum log_format log_style = LOG_FORMAT_TEXT;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_configure(enum log_level level, enum log_format format)
{
	log_threshold = level;
	log_style = format;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (int i = 0; i < 4; i++)
		if (name && strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

int log_format_parse(const char *name, enum log_format *out)
{
	if (name && strcmp(name, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (name && strcmp(name, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < 4 ? level_names[level] : "unknown";
}

bool log_enabled(enum log_level level)
{
	return level <= log_threshold;
}

/* Appends s quoted for a JSON string (also right for logfmt's "..."). */
static size_t append_quoted(char *buf, size_t pos, size_t len, const char *s)
{
	for (; *s && pos + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[pos++] = '\\';
			buf[pos++] = (char)c;
		} else if (c == '\n') {
			buf[pos++] = '\\';
			buf[pos++] = 'n';
		} else if (c < 0x20) {
			pos += (size_t)snprintf(buf + pos, len - pos, "\\u%04x", c);
		} else {
			buf[pos++] = (char)c;
		}
	}
	return pos;
}

size_t log_format_line(char *buf, size_t len, enum log_format format, int64_t unix_ns,
		       enum log_level level, const char *component, const char *msg)
{
	char stamp[40];
	time_t secs = (time_t)(unix_ns / 1000000000LL);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - n, ".%06lldZ",
		 (long long)(unix_ns % 1000000000LL) / 1000);
	const char *head = format == LOG_FORMAT_JSON
				   ? "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\""
				   : "time=\"%s\" level=%s component=%s msg=\"";
	int w = snprintf(buf, len, head, stamp, log_level_name(level),
			 component ? component : "core");
	size_t pos = w > 0 && (size_t)w < len ? (size_t)w : 0;
	pos = append_quoted(buf, pos, len, msg);
	const char *tail = format == LOG_FORMAT_JSON ? "\"}\n" : "\"\n";
	size_t tail_len = strlen(tail);
	if (pos + tail_len >= len)
		pos = len - tail_len - 1;
	memcpy(buf + pos, tail, tail_len + 1);
	return pos + tail_len;
}

void log_vmsg(enum log_level level, const char *component, const char *fmt, va_list ap)
{
	if (!log_enabled(level))
		return;
	char msg[3072], line[4096];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	size_t n = log_format_line(line, sizeof(line), log_style,
				   (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec, level,
				   component, msg);
	/* One write: lines of several threads never interleave. Nothing to
	 * do when stderr is gone. */
	ssize_t wrote = write(STDERR_FILENO, line, n);
	(void)wrote;
}

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, component, fmt, ap);
	va_end(ap);
}
