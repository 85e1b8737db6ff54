/*
 * timefmt.h: timestamps as the Docker API writes them (RFC 3339 with
 * nanoseconds, UTC) and durations in Go's syntax ("1m30s"). Pure functions;
 * owns no state.
 */
#ifndef ORCHD_TIMEFMT_H
#define ORCHD_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Writes "2026-11-27T06:40:00.123456789Z" (buf >= 36 bytes). */
void timefmt_rfc3339(int64_t ns, char *buf, size_t len);
/* Parses the above (fraction optional, 'Z' required). Returns 0 or -1. */
int timefmt_parse_rfc3339(const char *text, int64_t *ns);

#endif
