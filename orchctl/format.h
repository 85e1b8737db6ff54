/*
 * format.h: orchctl's output formatting, docker-compatible: aligned tables
 * (docker's tabwriter settings: columns padded to the widest cell + 3,
 * at least 10 wide, last column unpadded), "2 minutes" ages, "512MiB"
 * sizes, Go duration strings, truncated IDs and errors, natural sorting.
 *
 * A format_table owns copies of its cells until format_table_free; the
 * other functions own no state.
 */
#ifndef ORCHCTL_FORMAT_H
#define ORCHCTL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct format_table {
	size_t columns;
	size_t rows;  /* including the header row */
	char **cells; /* rows * columns strings */
};

/* Starts a table whose header row is the given column titles. */
int format_table_init(struct format_table *t, size_t columns,
		      const char *const *titles);
/* Appends a row of `columns` cells (NULL prints as empty). */
int format_table_add(struct format_table *t, const char *const *cells);
void format_table_print(const struct format_table *t, FILE *out);
void format_table_free(struct format_table *t);

/* Prints the JSON array items as a table under titles: sorted by cmp (a
 * qsort comparator of json_t * pointers), one row per item made by
 * add_row (which calls format_table_add; ctx is its). Returns 0, or -1
 * out of memory (nothing printed). */
int format_json_table(FILE *out, json_t *items, size_t columns,
		      const char *const *titles,
		      int (*cmp)(const void *, const void *),
		      int (*add_row)(struct format_table *t, json_t *item, void *ctx),
		      void *ctx);

/* Display width of UTF-8 text (code points). */
size_t format_text_width(const char *text);

/* docker's units.HumanDuration: "Less than a second", "2 minutes",
 * "About an hour", "3 days"... */
void format_human_duration(int64_t seconds, char *buf, size_t len);

/* docker's units.BytesSize: "%.4g" + B, KiB, MiB, GiB, TiB, PiB. */
void format_bytes_size(double bytes, char *buf, size_t len);

/* Go's time.Duration.String: "0s", "500ms", "1m30s", "2h0m0s". */
void format_go_duration(int64_t ns, char *buf, size_t len);

/* Nano CPUs as a decimal: 500000000 -> "0.5", 2000000000 -> "2". */
void format_nano_cpus(int64_t nano, char *buf, size_t len);

/* The first 12 characters of an ID (the whole ID when no_trunc). */
void format_id(const char *id, bool no_trunc, char *buf, size_t len);

/* "running" -> "Running" (docker's command.PrettyPrint). */
void format_capitalize(const char *word, char *buf, size_t len);

/* A task error for `service ps`: quoted, cut to 30 characters with "…"
 * unless no_trunc; "" when there is no error. */
void format_task_error(const char *err, bool no_trunc, char *buf, size_t len);

/* Image without its "@sha256:..." digest. */
void format_image(const char *image, bool no_trunc, char *buf, size_t len);

/* Natural order: "web.2" < "web.10". Returns <0, 0, >0 like strcmp. */
int format_natural_cmp(const char *a, const char *b);

#endif
