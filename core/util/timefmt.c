/*
 * timefmt.c: RFC 3339 timestamps with nanoseconds (see timefmt.h). Owns no
 * state.
 */
#include "timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void timefmt_rfc3339(int64_t ns, char *buf, size_t len)
{
	time_t secs = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char date[32];
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", date, frac);
}

int timefmt_parse_rfc3339(const char *text, int64_t *ns)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	int consumed = 0;
	if (!text || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year,
			    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			    &tm.tm_sec, &consumed) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	const char *p = text + consumed;
	int64_t frac = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 9)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return -1;
		for (; digits < 9; digits++)
			frac *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return -1;
	*ns = (int64_t)timegm(&tm) * 1000000000 + frac;
	return 0;
}
