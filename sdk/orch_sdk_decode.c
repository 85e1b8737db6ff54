/*
 * orch_sdk_decode.c: strict decoders of JSON request fields into C values
 * (sdk_decode.h), used by the scheduler and runtime helpers so that every
 * bad field gets an error naming it. No state.
 */
#include "sdk_decode.h"

#include <stdio.h>
#include <stdlib.h>

int sdk_field_error(const struct sdk_where *w, const char *field,
		    const char *what)
{
	orch_errorf(w->err, w->errlen, "%s[%zu].%s: %s", w->array, w->index,
		   field, what);
	return -1;
}

int sdk_dec_object(json_t *obj, const struct sdk_where *w)
{
	if (json_is_object(obj))
		return 0;
	orch_errorf(w->err, w->errlen, "%s[%zu]: expected an object", w->array,
		   w->index);
	return -1;
}

int sdk_dec_string(json_t *obj, const char *field, const char *def,
		   const char **out, const struct sdk_where *w)
{
	json_t *value = json_object_get(obj, field);

	if (value == NULL) {
		if (def == NULL)
			return sdk_field_error(w, field, "missing");
		*out = def;
		return 0;
	}
	if (!json_is_string(value))
		return sdk_field_error(w, field, "expected a string");
	*out = json_string_value(value);
	return 0;
}

int sdk_dec_count(json_t *obj, const char *field, int64_t *out,
		  const struct sdk_where *w)
{
	json_t *value = json_object_get(obj, field);

	*out = 0;
	if (value == NULL)
		return 0;
	if (!json_is_integer(value))
		return sdk_field_error(w, field, "expected an integer");
	if (json_integer_value(value) < 0)
		return sdk_field_error(w, field, "must not be negative");
	*out = json_integer_value(value);
	return 0;
}

int sdk_dec_resources(json_t *obj, const char *field,
		      struct orch_sched_resources *out,
		      const struct sdk_where *w)
{
	char name[64];
	json_t *value = json_object_get(obj, field);

	out->nano_cpus = 0;
	out->memory_bytes = 0;
	if (value == NULL)
		return 0;
	if (!json_is_object(value))
		return sdk_field_error(w, field, "expected an object");
	snprintf(name, sizeof(name), "%s.nano_cpus", field);
	if (sdk_dec_count(value, "nano_cpus", &out->nano_cpus, w) != 0)
		return sdk_field_error(w, name,
				       "expected a non-negative integer");
	snprintf(name, sizeof(name), "%s.memory_bytes", field);
	if (sdk_dec_count(value, "memory_bytes", &out->memory_bytes, w) != 0)
		return sdk_field_error(w, name,
				       "expected a non-negative integer");
	return 0;
}

/* The common start of an optional array (is_array) or object field:
 * *slots NULL and *n 0; nothing more when absent or empty; an error
 * naming field (expected) when not of the kind; else one zeroed slot of
 * size bytes an item in *slots. 0 with *value the field to walk (NULL:
 * nothing to), or -1. */
static int dec_slots(json_t *obj, const char *field, bool is_array,
		     const char *expected, size_t size, void **slots,
		     size_t *n, json_t **value, const struct sdk_where *w)
{
	json_t *v = json_object_get(obj, field);
	size_t count;

	*value = NULL;
	*slots = NULL;
	*n = 0;
	if (v == NULL)
		return 0;
	if (is_array ? !json_is_array(v) : !json_is_object(v))
		return sdk_field_error(w, field, expected);
	count = is_array ? json_array_size(v) : json_object_size(v);
	if (count == 0)
		return 0;
	*slots = calloc(count, size);
	if (*slots == NULL)
		return sdk_field_error(w, field, "out of memory");
	*value = v;
	return 0;
}

int sdk_dec_strings(json_t *obj, const char *field, const char ***out,
		    size_t *n, const struct sdk_where *w)
{
	static const char expected[] = "expected an array of strings";
	json_t *value, *item;
	void *slots;
	size_t i;

	int rv = dec_slots(obj, field, true, expected, sizeof(**out), &slots,
			   n, &value, w);

	*out = slots;
	if (rv != 0)
		return -1;
	json_array_foreach(value, i, item)
	{
		if (!json_is_string(item))
			return sdk_field_error(w, field, expected);
		(*out)[(*n)++] = json_string_value(item);
	}
	return 0;
}

int sdk_dec_labels(json_t *obj, const char *field,
		   struct orch_sched_label **out, size_t *n,
		   const struct sdk_where *w)
{
	json_t *value, *item;
	const char *key;
	void *slots;

	int rv = dec_slots(obj, field, false, "expected an object",
			   sizeof(**out), &slots, n, &value, w);

	*out = slots;
	if (rv != 0)
		return -1;
	json_object_foreach(value, key, item)
	{
		if (!json_is_string(item))
			return sdk_field_error(w, field,
					       "label values must be strings");
		(*out)[*n].key = key;
		(*out)[*n].value = json_string_value(item);
		(*n)++;
	}
	return 0;
}
