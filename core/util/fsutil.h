/*
 * fsutil.h: the few file-system and error-text helpers every room uses:
 * formatting an error into a caller's buffer, mkdir -p, reading a whole file
 * and replacing a file atomically. Owns nothing; each function is a leaf.
 */
#ifndef ORCHD_FSUTIL_H
#define ORCHD_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* snprintf into err (when err is not NULL and errlen > 0). */
void util_errorf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* mkdir -p path with mode for every directory it makes. Returns 0, or -1
 * with err naming the directory that could not be made and why. */
int util_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen);

/* The whole file as a NUL-terminated string (free it), or NULL with err. */
char *util_read_file(const char *path, char *err, size_t errlen);

/* Writes text to path.tmp with mode, then renames it over path. */
int util_write_file(const char *path, const char *text, mode_t mode, char *err,
		    size_t errlen);

#endif
