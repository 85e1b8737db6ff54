/*
 * fsutil.c: see fsutil.h. Owns nothing.
 */
#include "fsutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

void util_errorf(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int util_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(buf)) {
		util_errorf(err, errlen, "bad directory path \"%s\"", path);
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST) {
			util_errorf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
			return -1;
		}
		buf[i] = c;
	}
	return 0;
}

char *util_read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		util_errorf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while (mem && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, mem);
	fclose(f);
	if (!mem) {
		util_errorf(err, errlen, "out of memory reading %s", path);
		return NULL;
	}
	fclose(mem);
	return buf;
}

int util_write_file(const char *path, const char *text, mode_t mode, char *err,
		    size_t errlen)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		util_errorf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		return -1;
	}
	bool written = fchmod(fileno(f), mode) == 0 && fputs(text, f) >= 0;
	if (fclose(f) != 0 || !written || rename(tmp, path) != 0) {
		util_errorf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
