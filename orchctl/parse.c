/*
 * parse.c: orchctl's flag value parsers (see parse.h for the syntaxes):
 * numbers, durations, sizes, enumerations, words, mounts, KEY=VALUE and
 * timestamps. The cluster flags' values (node, swarm, -H) are
 * parse_cluster.c's.
 *
 * Pure functions over strings: no I/O except parse_env reading orchctl's
 * own environment, no state. Numbers are parsed by hand so that every
 * overflow is detected and reported, and no locale can change the syntax.
 */
#include "parse.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_US 1000LL
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

int parse_fail(char *err, size_t err_len, const char *fmt, ...)
{
	if (err != NULL && err_len > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool parse_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ------------------------------------------------------------------ */
/* Integers                                                            */

int parse_uint64(const char *text, uint64_t *out, char *err, size_t err_len)
{
	uint64_t value = 0;
	if (text[0] == '\0')
		return parse_fail(err, err_len,
				  "strconv.ParseUint: parsing \"\": invalid syntax");
	for (const char *p = text; *p; p++) {
		if (!parse_is_digit(*p))
			return parse_fail(err, err_len,
					  "strconv.ParseUint: parsing \"%s\": invalid syntax",
					  text);
	}
	for (const char *p = text; *p; p++) {
		unsigned digit = (unsigned)(*p - '0');
		if (value > (UINT64_MAX - digit) / 10)
			return parse_fail(err, err_len,
					  "strconv.ParseUint: parsing \"%s\": value out of range",
					  text);
		value = value * 10 + digit;
	}
	*out = value;
	return 0;
}

/* A decimal "123" or "123.456" at *p: whole part, up to 18 fraction digits
 * (more are dropped) and their scale; advances *p. -1 if no digit at all or
 * the whole part overflows. */
struct parse_decimal {
	uint64_t whole;
	uint64_t frac;
	uint64_t scale; /* 10^(fraction digits kept) */
	bool frac_dropped_nonzero;
};

static int parse_decimal_at(const char **p, struct parse_decimal *d)
{
	const char *s = *p;
	bool any = false;
	*d = (struct parse_decimal){ .scale = 1 };
	while (parse_is_digit(*s)) {
		unsigned digit = (unsigned)(*s - '0');
		if (d->whole > (UINT64_MAX - digit) / 10)
			return -2;
		d->whole = d->whole * 10 + digit;
		s++;
		any = true;
	}
	if (*s == '.') {
		s++;
		while (parse_is_digit(*s)) {
			if (d->scale < 1000000000000000000ULL) {
				d->frac = d->frac * 10 + (uint64_t)(*s - '0');
				d->scale *= 10;
			} else if (*s != '0') {
				d->frac_dropped_nonzero = true;
			}
			s++;
			any = true;
		}
	}
	if (!any)
		return -1;
	*p = s;
	return 0;
}

/* d * unit, rounded down; -1 if the result exceeds INT64_MAX. */
static int parse_scale_decimal(const struct parse_decimal *d, uint64_t unit,
			       int64_t *out)
{
	unsigned __int128 total = (unsigned __int128)d->whole * unit;
	total += (unsigned __int128)d->frac * unit / d->scale;
	if (total > (unsigned __int128)INT64_MAX)
		return -1;
	*out = (int64_t)total;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Durations (Go's time.ParseDuration, without negative values)        */

static int64_t parse_duration_unit(const char *unit, size_t len)
{
	static const struct {
		const char *name;
		int64_t ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", NS_PER_US },
		{ "\xc2\xb5s", NS_PER_US },
		{ "\xce\xbcs", NS_PER_US },
		{ "ms", NS_PER_MS },
		{ "s", NS_PER_S },
		{ "m", 60 * NS_PER_S },
		{ "h", 3600 * NS_PER_S },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].name) == len &&
		    memcmp(units[i].name, unit, len) == 0)
			return units[i].ns;
	}
	return 0;
}

int parse_duration_ns(const char *text, int64_t *out, char *err, size_t err_len)
{
	const char *p = text;
	int64_t total = 0;
	if (*p == '+')
		p++;
	else if (*p == '-')
		return parse_fail(err, err_len,
				  "negative duration \"%s\" is not allowed", text);
	if (strcmp(p, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (*p == '\0')
		return parse_fail(err, err_len, "time: invalid duration \"%s\"", text);
	while (*p != '\0') {
		struct parse_decimal d;
		int rc = parse_decimal_at(&p, &d);
		if (rc == -1)
			return parse_fail(err, err_len,
					  "time: invalid duration \"%s\"", text);
		const char *unit = p;
		while (*p != '\0' && *p != '.' && !parse_is_digit(*p))
			p++;
		if (unit == p)
			return parse_fail(err, err_len,
					  "time: missing unit in duration \"%s\"",
					  text);
		int64_t unit_ns = parse_duration_unit(unit, (size_t)(p - unit));
		if (unit_ns == 0)
			return parse_fail(err, err_len,
					  "time: unknown unit \"%.*s\" in duration \"%s\"",
					  (int)(p - unit), unit, text);
		int64_t part;
		if (rc == -2 ||
		    parse_scale_decimal(&d, (uint64_t)unit_ns, &part) != 0 ||
		    part > INT64_MAX - total)
			return parse_fail(err, err_len,
					  "time: invalid duration \"%s\" (out of range)",
					  text);
		total += part;
	}
	*out = total;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Memory sizes and CPUs                                               */

int parse_memory_bytes(const char *text, int64_t *out, char *err, size_t err_len)
{
	const char *p = text;
	struct parse_decimal d;
	uint64_t multiplier = 1;
	int rc = parse_decimal_at(&p, &d);
	if (rc == -1)
		return parse_fail(err, err_len, "invalid size: '%s'", text);
	if (*p == ' ')
		p++;
	const char *units = "kmgtp";
	const char *unit = *p ? strchr(units, tolower((unsigned char)*p)) : NULL;
	if (unit != NULL) {
		for (const char *u = units; u <= unit; u++)
			multiplier *= 1024;
		p++;
		if (*p == 'i' || *p == 'I')
			p++;
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0')
		return parse_fail(err, err_len, "invalid size: '%s'", text);
	if (rc == -2 || parse_scale_decimal(&d, multiplier, out) != 0)
		return parse_fail(err, err_len, "size '%s' is too large", text);
	return 0;
}

int parse_nano_cpus(const char *text, int64_t *out, char *err, size_t err_len)
{
	const char *p = text;
	struct parse_decimal d;
	int rc = parse_decimal_at(&p, &d);
	if (rc == -1 || *p != '\0')
		return parse_fail(err, err_len,
				  "failed to parse %s as a rational number", text);
	/* More than 9 significant fraction digits cannot be nano CPUs. */
	uint64_t frac = d.frac, scale = d.scale;
	while (scale > NS_PER_S) {
		if (frac % 10 != 0)
			return parse_fail(err, err_len, "value is too precise");
		frac /= 10;
		scale /= 10;
	}
	if (d.frac_dropped_nonzero)
		return parse_fail(err, err_len, "value is too precise");
	if (rc == -2 || parse_scale_decimal(&d, NS_PER_S, out) != 0)
		return parse_fail(err, err_len, "value %s is too large", text);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Enumerations                                                        */

int parse_service_mode(const char *text, enum parse_service_mode *out,
		       char *err, size_t err_len)
{
	if (strcmp(text, "replicated") == 0)
		*out = PARSE_MODE_REPLICATED;
	else if (strcmp(text, "global") == 0)
		*out = PARSE_MODE_GLOBAL;
	else
		return parse_fail(err, err_len,
				  "invalid mode \"%s\": must be replicated or global",
				  text);
	return 0;
}

int parse_word(const char *text, const char *const *words, char *err,
	       size_t err_len, const char *refusal)
{
	for (size_t i = 0; words[i] != NULL; i++)
		if (strcmp(text, words[i]) == 0)
			return 0;
	return parse_fail(err, err_len, refusal, text);
}

int parse_restart_condition(const char *text, char *err, size_t err_len)
{
	static const char *const conditions[] = { "none", "on-failure", "any", NULL };
	return parse_word(
		text, conditions, err, err_len,
		"invalid restart condition \"%s\": must be none, on-failure or any");
}

int parse_bool(const char *text, bool *out, char *err, size_t err_len)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0",     "f",     "F",
					  "FALSE", "false", "False" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(text, yes[i]) == 0 || strcmp(text, no[i]) == 0) {
			*out = strcmp(text, yes[i]) == 0;
			return 0;
		}
	}
	return parse_fail(err, err_len,
			  "strconv.ParseBool: parsing \"%s\": invalid syntax", text);
}

int parse_failure_action(const char *text, char *err, size_t err_len)
{
	static const char *const actions[] = { "pause", "continue", "rollback", NULL };
	return parse_word(
		text, actions, err, err_len,
		"invalid failure action \"%s\": must be pause, continue or rollback");
}

int parse_update_order(const char *text, char *err, size_t err_len)
{
	static const char *const orders[] = { "stop-first", "start-first", NULL };
	return parse_word(
		text, orders, err, err_len,
		"invalid update order \"%s\": must be stop-first or start-first");
}

int parse_failure_ratio(const char *text, double *out, char *err, size_t err_len)
{
	const char *p = text;
	struct parse_decimal d;
	bool negative = *p == '-';
	if (negative)
		p++;
	int rc = parse_decimal_at(&p, &d);
	if (rc == -1 || *p != '\0')
		return parse_fail(err, err_len,
				  "strconv.ParseFloat: parsing \"%s\": invalid syntax",
				  text);
	bool zero = rc == 0 && d.whole == 0 && d.frac == 0 && !d.frac_dropped_nonzero;
	bool above_one = rc == -2 || d.whole > 1 ||
			 (d.whole == 1 && (d.frac != 0 || d.frac_dropped_nonzero));
	if ((negative && !zero) || above_one)
		return parse_fail(err, err_len,
				  "failure ratio must be between 0 and 1");
	*out = (double)d.whole + (double)d.frac / (double)d.scale;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Shell words (--args)                                                */

void parse_words_free(char **words, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(words[i]);
	free(words);
}

/* Appends word (copied) to *words. */
static int parse_words_add(char ***words, size_t *count, const char *word)
{
	char **grown = realloc(*words, (*count + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	*words = grown;
	grown[*count] = strdup(word);
	if (grown[*count] == NULL)
		return -1;
	(*count)++;
	return 0;
}

/* Copies one word starting at *p into buf (NUL-terminated), advancing *p
 * past it; -1 with the reason on an unterminated quote or escape. */
static int parse_one_word(const char **p, char *buf, char *err, size_t err_len)
{
	const char *s = *p;
	char quote = '\0';
	size_t n = 0;
	for (; *s != '\0' && (quote != '\0' || !isspace((unsigned char)*s)); s++) {
		if (quote == '\'' && *s != '\'') {
			buf[n++] = *s;
		} else if (*s == '\\' && quote != '\'') {
			if (s[1] == '\0')
				return parse_fail(err, err_len,
						  "EOF found after escape character");
			buf[n++] = *++s;
		} else if ((*s == '\'' || *s == '"') &&
			   (quote == '\0' || quote == *s)) {
			quote = quote == '\0' ? *s : '\0';
		} else {
			buf[n++] = *s;
		}
	}
	if (quote != '\0')
		return parse_fail(err, err_len,
				  "EOF found when expecting closing quote");
	buf[n] = '\0';
	*p = s;
	return 0;
}

int parse_shell_words(const char *text, char ***words, size_t *count, char *err,
		      size_t err_len)
{
	char *buf = malloc(strlen(text) + 1);
	const char *p = text;
	int rc = buf == NULL ? parse_fail(err, err_len, "out of memory") : 0;
	*words = NULL;
	*count = 0;
	while (rc == 0) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		rc = parse_one_word(&p, buf, err, err_len);
		if (rc == 0 && parse_words_add(words, count, buf) != 0)
			rc = parse_fail(err, err_len, "out of memory");
	}
	free(buf);
	if (rc != 0) {
		parse_words_free(*words, *count);
		*words = NULL;
		*count = 0;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Constraints                                                         */

static bool parse_is_constraint_key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

int parse_constraint(const char *text, char *err, size_t err_len)
{
	const char *eq = strstr(text, "==");
	const char *ne = strstr(text, "!=");
	if ((eq == NULL) == (ne == NULL) || (eq && strstr(eq + 2, "==")) ||
	    (ne && strstr(ne + 2, "!=")))
		return parse_fail(err, err_len,
				  "constraint expected one operator from ==, !=");
	const char *op = eq ? eq : ne;
	const char *k = text, *k_end = op;
	while (*k == ' ')
		k++;
	while (k_end > k && k_end[-1] == ' ')
		k_end--;
	if (k == k_end)
		return parse_fail(err, err_len,
				  "constraint has no key before the operator");
	for (const char *c = k; c < k_end; c++) {
		if (!parse_is_constraint_key_char(*c))
			return parse_fail(err, err_len,
					  "invalid character '%c' in constraint key",
					  *c);
	}
	const char *v = op + 2;
	while (*v == ' ')
		v++;
	if (*v == '\0')
		return parse_fail(err, err_len,
				  "constraint has no value after the operator");
	for (const char *c = v; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == '=' || *c == '!')
			return parse_fail(err, err_len,
					  "invalid character in constraint value");
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Mounts                                                              */

void parse_mount_free(struct parse_mount *mount)
{
	free(mount->type);
	free(mount->source);
	free(mount->target);
	memset(mount, 0, sizeof(*mount));
}

static int parse_bool_word(const char *v, bool *out)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

/* Stores a copy of value in *slot (replacing an earlier one). */
static int parse_set_string(char **slot, const char *value, char *err, size_t err_len)
{
	char *copy = strdup(value);
	if (copy == NULL)
		return parse_fail(err, err_len, "out of memory");
	free(*slot);
	*slot = copy;
	return 0;
}

static int parse_mount_field(char *field, struct parse_mount *m, char *err,
			     size_t err_len)
{
	char *eq = strchr(field, '=');
	char *value = eq ? eq + 1 : NULL;
	if (eq)
		*eq = '\0';
	if (strcmp(field, "readonly") == 0 || strcmp(field, "ro") == 0) {
		m->readonly = true;
		if (value != NULL && parse_bool_word(value, &m->readonly) != 0)
			return parse_fail(err, err_len, "invalid value for %s: %s",
					  field, value);
		return 0;
	}
	if (value == NULL)
		return parse_fail(err, err_len,
				  "invalid field '%s' must be a key=value pair",
				  field);
	if (strcmp(field, "type") == 0) {
		if (strcmp(value, "bind") != 0 &&
		    strcmp(value, "volume") != 0 && strcmp(value, "tmpfs") != 0)
			return parse_fail(err, err_len,
					  "invalid mount type '%s'", value);
		return parse_set_string(&m->type, value, err, err_len);
	}
	if (strcmp(field, "source") == 0 || strcmp(field, "src") == 0)
		return parse_set_string(&m->source, value, err, err_len);
	if (strcmp(field, "target") == 0 || strcmp(field, "dst") == 0 ||
	    strcmp(field, "destination") == 0)
		return parse_set_string(&m->target, value, err, err_len);
	return parse_fail(err, err_len, "unexpected key '%s' in '%s=%s'", field,
			  field, value);
}

static int parse_mount_check(struct parse_mount *m, char *err, size_t err_len)
{
	if (m->type == NULL && parse_set_string(&m->type, "volume", err, err_len) != 0)
		return -1;
	if (m->target == NULL || m->target[0] == '\0')
		return parse_fail(err, err_len, "target is required");
	if (m->target[0] != '/')
		return parse_fail(err, err_len,
				  "target '%s' must be an absolute path", m->target);
	bool is_bind = strcmp(m->type, "bind") == 0;
	if (is_bind && (m->source == NULL || m->source[0] == '\0'))
		return parse_fail(err, err_len,
				  "source is required when specifying bind mount");
	if (is_bind && m->source[0] != '/')
		return parse_fail(err, err_len,
				  "bind source '%s' must be an absolute path",
				  m->source);
	if (strcmp(m->type, "tmpfs") == 0 && m->source != NULL)
		return parse_fail(err, err_len,
				  "source must not be specified for tmpfs mounts");
	return 0;
}

int parse_mount(const char *text, struct parse_mount *out, char *err, size_t err_len)
{
	char *copy = strdup(text);
	memset(out, 0, sizeof(*out));
	if (copy == NULL)
		return parse_fail(err, err_len, "out of memory");
	int rc = 0;
	char *save = NULL;
	for (char *field = strtok_r(copy, ",", &save); field && rc == 0;
	     field = strtok_r(NULL, ",", &save))
		rc = parse_mount_field(field, out, err, err_len);
	free(copy);
	if (rc == 0)
		rc = parse_mount_check(out, err, err_len);
	if (rc != 0)
		parse_mount_free(out);
	return rc;
}

/* ------------------------------------------------------------------ */
/* KEY=VALUE arguments                                                 */

int parse_key_value(const char *text, char **key, char **value, char *err,
		    size_t err_len)
{
	const char *eq = strchr(text, '=');
	size_t key_len = eq ? (size_t)(eq - text) : strlen(text);
	*key = NULL;
	*value = NULL;
	if (key_len == 0)
		return parse_fail(err, err_len, "empty key in '%s'", text);
	for (size_t i = 0; i < key_len; i++) {
		if (isspace((unsigned char)text[i]))
			return parse_fail(err, err_len,
					  "key '%.*s' contains whitespace",
					  (int)key_len, text);
	}
	*key = strndup(text, key_len);
	*value = eq ? strdup(eq + 1) : NULL;
	if (*key == NULL || (eq && *value == NULL)) {
		free(*key);
		free(*value);
		*key = *value = NULL;
		return parse_fail(err, err_len, "out of memory");
	}
	return 0;
}

int parse_env(const char *text, char **out, char *err, size_t err_len)
{
	char *key, *value;
	if (parse_key_value(text, &key, &value, err, err_len) != 0)
		return -1;
	const char *from_env = value ? NULL : getenv(key);
	int n;
	if (value != NULL)
		n = asprintf(out, "%s=%s", key, value);
	else if (from_env != NULL)
		n = asprintf(out, "%s=%s", key, from_env);
	else
		n = asprintf(out, "%s", key);
	free(key);
	free(value);
	if (n < 0) {
		*out = NULL;
		return parse_fail(err, err_len, "out of memory");
	}
	return 0;
}

int parse_scale_spec(const char *text, char **service, uint64_t *replicas,
		     char *err, size_t err_len)
{
	const char *eq = strchr(text, '=');
	char reason[PARSE_ERR_LEN];
	*service = NULL;
	if (eq == NULL || eq == text || eq[1] == '\0')
		return parse_fail(err, err_len, "invalid scale specifier '%s'", text);
	if (parse_uint64(eq + 1, replicas, reason, sizeof(reason)) != 0)
		return parse_fail(err, err_len, "invalid replicas value %s: %s",
				  eq + 1, reason);
	*service = strndup(text, (size_t)(eq - text));
	if (*service == NULL)
		return parse_fail(err, err_len, "out of memory");
	return 0;
}

int parse_service_name(const char *text, char *err, size_t err_len)
{
	size_t len = strlen(text);
	if (len == 0 || len > 63)
		return parse_fail(err, err_len,
				  "name must be 1 to 63 characters long");
	if (!isalnum((unsigned char)text[0]) ||
	    !isalnum((unsigned char)text[len - 1]))
		return parse_fail(err, err_len,
				  "name must start and end with a letter or digit");
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			return parse_fail(
				err, err_len,
				"name may contain only letters, digits, '-' and '_'");
	}
	return 0;
}

int parse_task_filter(const char *text, char **key, char **value, char *err,
		      size_t err_len)
{
	static const char *keys[] = { "id", "name", "node", "label", "desired-state" };
	if (parse_key_value(text, key, value, err, err_len) != 0)
		return -1;
	int rc = -1;
	if (*value == NULL) {
		parse_fail(err, err_len, "bad format of filter (expected name=value)");
		goto out;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(*key, keys[i]) == 0)
			rc = 0;
	}
	if (rc != 0) {
		parse_fail(err, err_len, "invalid filter '%s'", *key);
		goto out;
	}
	if (strcmp(*key, "desired-state") == 0 && strcmp(*value, "running") != 0 &&
	    strcmp(*value, "shutdown") != 0 && strcmp(*value, "accepted") != 0) {
		rc = parse_fail(err, err_len,
				"invalid desired-state '%s': must be running, shutdown or accepted",
				*value);
	}
out:
	if (rc != 0) {
		free(*key);
		free(*value);
		*key = *value = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Timestamps                                                          */

/* Reads exactly `digits` decimal digits at *p. */
static int parse_fixed_digits(const char **p, int digits, int *out)
{
	int value = 0;
	for (int i = 0; i < digits; i++) {
		if (!parse_is_digit((*p)[i]))
			return -1;
		value = value * 10 + ((*p)[i] - '0');
	}
	*p += digits;
	*out = value;
	return 0;
}

static int parse_expect(const char **p, char c)
{
	if (tolower((unsigned char)**p) != tolower((unsigned char)c))
		return -1;
	(*p)++;
	return 0;
}

int parse_rfc3339(const char *text, int64_t *out_seconds, char *err, size_t err_len)
{
	const char *p = text;
	struct tm tm = { 0 };
	int year, month, day, hour, minute, second, off_h = 0, off_m = 0, sign = 0;
	if (parse_fixed_digits(&p, 4, &year) || parse_expect(&p, '-') ||
	    parse_fixed_digits(&p, 2, &month) || parse_expect(&p, '-') ||
	    parse_fixed_digits(&p, 2, &day) || parse_expect(&p, 'T') ||
	    parse_fixed_digits(&p, 2, &hour) || parse_expect(&p, ':') ||
	    parse_fixed_digits(&p, 2, &minute) || parse_expect(&p, ':') ||
	    parse_fixed_digits(&p, 2, &second))
		return parse_fail(err, err_len, "invalid timestamp \"%s\"", text);
	if (*p == '.') {
		p++;
		if (!parse_is_digit(*p))
			return parse_fail(err, err_len,
					  "invalid timestamp \"%s\"", text);
		while (parse_is_digit(*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (parse_fixed_digits(&p, 2, &off_h) ||
		    parse_expect(&p, ':') || parse_fixed_digits(&p, 2, &off_m))
			return parse_fail(err, err_len,
					  "invalid timestamp \"%s\"", text);
	} else {
		return parse_fail(err, err_len, "invalid timestamp \"%s\"", text);
	}
	if (*p != '\0' || month < 1 || month > 12 || day < 1 || day > 31 ||
	    hour > 23 || minute > 59 || second > 60 || off_h > 23 || off_m > 59)
		return parse_fail(err, err_len, "invalid timestamp \"%s\"", text);
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = minute;
	tm.tm_sec = second;
	int64_t seconds = (int64_t)timegm(&tm);
	*out_seconds = seconds - sign * (off_h * 3600 + off_m * 60);
	return 0;
}
