/*
 * orch_sdk_util.c: the SDK's small helpers (orch_sdk.h): an error text
 * into err/errlen, reading a plugin option from the host table, logging through the host, and the runtime
 * toolbox (node capacity, UTF-8 cleanup, tailing a log file). No state.
 */
#include "sdk_decode.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void orch_errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ options */

/* The value's text into buf; an error text when it has none. */
static enum orch_option_result option_text(json_t *value, const char *key,
					   char *buf, size_t len)
{
	char number[64];
	const char *text = number;

	if (json_is_string(value))
		text = json_string_value(value);
	else if (json_is_integer(value))
		snprintf(number, sizeof(number), "%lld",
			 (long long)json_integer_value(value));
	else if (json_is_real(value))
		snprintf(number, sizeof(number), "%.17g",
			 json_real_value(value));
	else if (json_is_boolean(value))
		text = json_is_true(value) ? "true" : "false";
	else {
		orch_errorf(buf, len, "option \"%s\": expected a string, "
				     "number or boolean", key);
		return ORCH_OPTION_ERROR;
	}
	if (strlen(text) >= len) {
		orch_errorf(buf, len, "option \"%s\": value longer than %zu "
				     "bytes", key, len == 0 ? 0 : len - 1);
		return ORCH_OPTION_ERROR;
	}
	memcpy(buf, text, strlen(text) + 1);
	return ORCH_OPTION_FOUND;
}

enum orch_option_result orch_option(const struct orch_host *host,
				    const char *key, char *buf, size_t len)
{
	const char *text = host->config_json ? host->config_json : "{}";
	enum orch_option_result result;
	json_error_t jerr;
	json_t *config, *value;

	if (len == 0)
		return ORCH_OPTION_ERROR;
	buf[0] = '\0';
	config = json_loads(text, 0, &jerr);
	if (!json_is_object(config)) {
		orch_errorf(buf, len, "plugin options: %s",
			   config ? "not a JSON object" : jerr.text);
		json_decref(config);
		return ORCH_OPTION_ERROR;
	}
	value = json_object_get(config, key);
	if (value == NULL || json_is_null(value))
		result = ORCH_OPTION_ABSENT;
	else
		result = option_text(value, key, buf, len);
	json_decref(config);
	return result;
}

void orch_logf(const struct orch_host *host, enum orch_log_level level,
	       const char *fmt, ...)
{
	const char *name = host->plugin_name ? host->plugin_name : "plugin";
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (host->log != NULL)
		host->log(level, name, "%s", text);
	else
		fprintf(stderr, "%s: %s\n", name, text);
}

/* ------------------------------------------------------------ capacity */

static int64_t node_nano_cpus(void)
{
	cpu_set_t set;
	long count = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		count = CPU_COUNT(&set);
	if (count <= 0)
		count = sysconf(_SC_NPROCESSORS_ONLN);
	return count > 0 ? (int64_t)count * 1000000000 : 0;
}

static int64_t node_memory_bytes(void)
{
	FILE *meminfo = fopen("/proc/meminfo", "re");
	long long kib = 0;
	char line[256];

	if (meminfo == NULL)
		return 0;
	while (fgets(line, sizeof(line), meminfo) != NULL)
		if (sscanf(line, "MemTotal: %lld kB", &kib) == 1)
			break;
	fclose(meminfo);
	return (int64_t)kib * 1024;
}

int orch_node_capacity(struct orch_sched_resources *out)
{
	out->nano_cpus = node_nano_cpus();
	out->memory_bytes = node_memory_bytes();
	return out->nano_cpus > 0 || out->memory_bytes > 0 ? 0 : -1;
}

/* --------------------------------------------------------------- UTF-8 */

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0; /* no overlong three-byte forms */
	else if (c == 0xED)
		hi = 0x9F; /* no surrogates */
	else if (c == 0xF0)
		lo = 0x90; /* no overlong four-byte forms */
	else if (c == 0xF4)
		hi = 0x8F; /* nothing above U+10FFFF */
	if (len < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return need;
}

void orch_utf8_sanitize(char *text, size_t len)
{
	unsigned char *s = (unsigned char *)text;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_sequence(s + i, len - i);
		if (n == 0) {
			s[i] = '?';
			n = 1;
		}
		i += n;
	}
}

/* ----------------------------------------------------------------- tail */

/* Offset in buf where its last `lines` lines start. */
static size_t tail_start(const char *buf, size_t len, int64_t lines)
{
	size_t pos = len;

	if (pos > 0 && buf[pos - 1] == '\n')
		pos--; /* the last line's own newline */
	while (pos > 0) {
		if (buf[pos - 1] == '\n' && --lines == 0)
			return pos;
		pos--;
	}
	return 0;
}

/* Reads len bytes at offset (fewer at end of file). Returns the count or
 * -errno. */
static ssize_t read_at(int fd, char *buf, size_t len, off_t offset)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, buf + done, len - done, offset + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* The last max_bytes of the open file into a new buffer. */
static ssize_t read_end(int fd, size_t max_bytes, char **buf, off_t *from)
{
	struct stat st;
	ssize_t got;

	if (fstat(fd, &st) != 0)
		return -errno;
	*from = (size_t)st.st_size > max_bytes ? st.st_size - (off_t)max_bytes
					       : 0;
	*buf = malloc((size_t)(st.st_size - *from) + 1);
	if (*buf == NULL)
		return -ENOMEM;
	got = read_at(fd, *buf, (size_t)(st.st_size - *from), *from);
	if (got >= 0)
		(*buf)[got] = '\0';
	return got;
}

int orch_file_tail(const char *path, int64_t lines, size_t max_bytes,
		   char **data, size_t *len, char *err, size_t errlen)
{
	size_t start = 0;
	char *buf = NULL, *newline;
	ssize_t got;
	off_t from = 0;
	int fd;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		*data = calloc(1, 1);
		if (*data == NULL)
			orch_errorf(err, errlen, "out of memory");
		return *data != NULL ? 0 : -1;
	}
	got = fd < 0 ? -errno : read_end(fd, max_bytes, &buf, &from);
	if (fd >= 0)
		close(fd);
	if (got < 0) {
		free(buf);
		orch_errorf(err, errlen, "%s: %s", path, strerror((int)-got));
		return -1;
	}
	if (from > 0) { /* drop the partial first line */
		newline = memchr(buf, '\n', (size_t)got);
		start = newline ? (size_t)(newline - buf) + 1 : 0;
	}
	if (lines > 0)
		start += tail_start(buf + start, (size_t)got - start, lines);
	*len = (size_t)got - start;
	memmove(buf, buf + start, *len + 1);
	orch_utf8_sanitize(buf, *len);
	*data = buf;
	return 0;
}
