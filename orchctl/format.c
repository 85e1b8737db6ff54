/*
 * format.c: orchctl's docker-compatible output formatting (see format.h).
 * No state beyond the cells of a format_table.
 */
#include "format.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_MIN_WIDTH 10
#define FORMAT_PADDING 3
#define FORMAT_ERR_MAX 30

/* ------------------------------------------------------------------ */
/* Tables                                                              */

static int format_table_append(struct format_table *t, const char *const *cells)
{
	char **grown = realloc(t->cells, (t->rows + 1) * t->columns * sizeof(*grown));
	if (grown == NULL)
		return -1;
	t->cells = grown;
	char **row = &t->cells[t->rows * t->columns];
	for (size_t c = 0; c < t->columns; c++) {
		row[c] = strdup(cells[c] ? cells[c] : "");
		if (row[c] == NULL) {
			for (size_t k = 0; k < c; k++)
				free(row[k]);
			return -1;
		}
	}
	t->rows++;
	return 0;
}

int format_table_init(struct format_table *t, size_t columns, const char *const *titles)
{
	*t = (struct format_table){ .columns = columns };
	return format_table_append(t, titles);
}

int format_table_add(struct format_table *t, const char *const *cells)
{
	return format_table_append(t, cells);
}

int format_json_table(FILE *out, json_t *items, size_t columns,
		      const char *const *titles,
		      int (*cmp)(const void *, const void *),
		      int (*add_row)(struct format_table *t, json_t *item, void *ctx),
		      void *ctx)
{
	struct format_table table;
	size_t count = json_array_size(items);
	json_t **sorted = calloc(count ? count : 1, sizeof(*sorted));
	if (sorted == NULL || format_table_init(&table, columns, titles) != 0) {
		free(sorted);
		return -1;
	}
	for (size_t i = 0; i < count; i++)
		sorted[i] = json_array_get(items, i);
	qsort(sorted, count, sizeof(*sorted), cmp);
	int rc = 0;
	for (size_t i = 0; i < count && rc == 0; i++)
		rc = add_row(&table, sorted[i], ctx);
	if (rc == 0)
		format_table_print(&table, out);
	format_table_free(&table);
	free(sorted);
	return rc == 0 ? 0 : -1;
}

size_t format_text_width(const char *text)
{
	size_t width = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if ((*p & 0xC0) != 0x80)
			width++;
	}
	return width;
}

void format_table_print(const struct format_table *t, FILE *out)
{
	size_t *widths = calloc(t->columns, sizeof(*widths));
	if (widths == NULL) {
		/* Unaligned but complete output beats none. */
		for (size_t r = 0; r < t->rows; r++) {
			for (size_t c = 0; c < t->columns; c++)
				fprintf(out, "%s%s", t->cells[r * t->columns + c],
					c + 1 < t->columns ? "\t" : "\n");
		}
		return;
	}
	for (size_t r = 0; r < t->rows; r++) {
		for (size_t c = 0; c + 1 < t->columns; c++) {
			size_t w = format_text_width(t->cells[r * t->columns + c]) +
				   FORMAT_PADDING;
			if (w > widths[c])
				widths[c] = w;
		}
	}
	for (size_t r = 0; r < t->rows; r++) {
		for (size_t c = 0; c < t->columns; c++) {
			const char *cell = t->cells[r * t->columns + c];
			fputs(cell, out);
			if (c + 1 == t->columns)
				break;
			size_t w = widths[c] < FORMAT_MIN_WIDTH ? FORMAT_MIN_WIDTH
								: widths[c];
			for (size_t k = format_text_width(cell); k < w; k++)
				fputc(' ', out);
		}
		fputc('\n', out);
	}
	free(widths);
}

void format_table_free(struct format_table *t)
{
	for (size_t i = 0; i < t->rows * t->columns; i++)
		free(t->cells[i]);
	free(t->cells);
	*t = (struct format_table){ 0 };
}

/* ------------------------------------------------------------------ */
/* Quantities                                                          */

void format_human_duration(int64_t seconds, char *buf, size_t len)
{
	int64_t minutes = seconds / 60;
	int64_t hours = (seconds + 1800) / 3600; /* Go rounds hours */
	if (seconds < 1)
		snprintf(buf, len, "Less than a second");
	else if (seconds == 1)
		snprintf(buf, len, "1 second");
	else if (seconds < 60)
		snprintf(buf, len, "%" PRId64 " seconds", seconds);
	else if (minutes == 1)
		snprintf(buf, len, "About a minute");
	else if (minutes < 60)
		snprintf(buf, len, "%" PRId64 " minutes", minutes);
	else if (hours == 1)
		snprintf(buf, len, "About an hour");
	else if (hours < 48)
		snprintf(buf, len, "%" PRId64 " hours", hours);
	else if (hours < 24 * 7 * 2)
		snprintf(buf, len, "%" PRId64 " days", hours / 24);
	else if (hours < 24 * 30 * 2)
		snprintf(buf, len, "%" PRId64 " weeks", hours / 24 / 7);
	else if (hours < 24 * 365 * 2)
		snprintf(buf, len, "%" PRId64 " months", hours / 24 / 30);
	else
		snprintf(buf, len, "%" PRId64 " years", seconds / 3600 / 24 / 365);
}

void format_bytes_size(double bytes, char *buf, size_t len)
{
	static const char *units[] = { "B",   "KiB", "MiB", "GiB",
				       "TiB", "PiB", "EiB" };
	size_t i = 0;
	while (bytes >= 1024.0 && i + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1024.0;
		i++;
	}
	snprintf(buf, len, "%.4g%s", bytes, units[i]);
}

/* Appends the fraction digits of value (< unit), trailing zeros dropped. */
static size_t format_fraction(char *buf, size_t len, int64_t value, int64_t unit)
{
	char digits[24];
	int width = 0;
	for (int64_t u = unit; u > 1; u /= 10)
		width++;
	snprintf(digits, sizeof(digits), "%0*" PRId64, width, value);
	size_t n = strlen(digits);
	while (n > 0 && digits[n - 1] == '0')
		n--;
	if (n == 0)
		return 0;
	int written = snprintf(buf, len, ".%.*s", (int)n, digits);
	return written < 0 ? 0 : (size_t)written;
}

void format_go_duration(int64_t ns, char *buf, size_t len)
{
	size_t used = 0;
	if (len == 0)
		return;
	buf[0] = '\0';
	if (ns < 0) {
		snprintf(buf, len, "-");
		used = 1;
		ns = ns == INT64_MIN ? INT64_MAX : -ns;
	}
	if (ns == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	if (ns < 1000000000) {
		int64_t unit = ns < 1000 ? 1 : ns < 1000000 ? 1000 : 1000000;
		const char *name = unit == 1      ? "ns"
				   : unit == 1000 ? "\xc2\xb5s"
						  : "ms";
		used += (size_t)snprintf(buf + used, len - used, "%" PRId64,
					 ns / unit);
		if (used < len)
			used += format_fraction(buf + used, len - used,
						ns % unit, unit);
		if (used < len)
			snprintf(buf + used, len - used, "%s", name);
		return;
	}
	int64_t secs = ns / 1000000000, frac = ns % 1000000000;
	int64_t h = secs / 3600, m = secs / 60 % 60, s = secs % 60;
	if (h > 0)
		used += (size_t)snprintf(buf + used, len - used, "%" PRId64 "h", h);
	if (h > 0 || m > 0)
		used += (size_t)snprintf(buf + used, len - used, "%" PRId64 "m", m);
	if (used >= len)
		return;
	used += (size_t)snprintf(buf + used, len - used, "%" PRId64, s);
	if (used < len)
		used += format_fraction(buf + used, len - used, frac, 1000000000);
	if (used < len)
		snprintf(buf + used, len - used, "s");
}

void format_nano_cpus(int64_t nano, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%" PRId64, nano / 1000000000);
	if (n > 0 && (size_t)n < len)
		format_fraction(buf + n, len - (size_t)n, nano % 1000000000,
				1000000000);
}

/* ------------------------------------------------------------------ */
/* Text                                                                */

void format_id(const char *id, bool no_trunc, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", no_trunc ? (int)strlen(id) : 12, id);
}

void format_capitalize(const char *word, char *buf, size_t len)
{
	snprintf(buf, len, "%s", word);
	if (len > 0 && buf[0] != '\0')
		buf[0] = (char)toupper((unsigned char)buf[0]);
}

void format_task_error(const char *err, bool no_trunc, char *buf, size_t len)
{
	if (err == NULL || err[0] == '\0') {
		snprintf(buf, len, "%s", "");
		return;
	}
	if (!no_trunc && strlen(err) > FORMAT_ERR_MAX)
		snprintf(buf, len, "\"%.*s\xe2\x80\xa6\"", FORMAT_ERR_MAX - 1, err);
	else
		snprintf(buf, len, "\"%s\"", err);
}

void format_image(const char *image, bool no_trunc, char *buf, size_t len)
{
	const char *at = no_trunc ? NULL : strchr(image, '@');
	snprintf(buf, len, "%.*s", at ? (int)(at - image) : (int)strlen(image), image);
}

int format_natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			while (*a == '0' && isdigit((unsigned char)a[1]))
				a++;
			while (*b == '0' && isdigit((unsigned char)b[1]))
				b++;
			size_t la = 0, lb = 0;
			while (isdigit((unsigned char)a[la]))
				la++;
			while (isdigit((unsigned char)b[lb]))
				lb++;
			if (la != lb)
				return la < lb ? -1 : 1;
			int c = strncmp(a, b, la);
			if (c != 0)
				return c;
			a += la;
			b += lb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}
