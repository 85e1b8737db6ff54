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

int sdk_dec_strings(json_t *obj, const char *field, const char ***out,
		    size_t *n, const struct sdk_where *w)
{
	json_t *value = json_object_get(obj, field), *item;
	size_t i;

	*out = NULL;
	*n = 0;
	if (value == NULL)
		return 0;
	if (!json_is_array(value))
		return sdk_field_error(w, field, "expected an array of strings");
	if (json_array_size(value) == 0)
		return 0;
	*out = calloc(json_array_size(value), sizeof(**out));
	if (*out == NULL)
		return sdk_field_error(w, field, "out of memory");
	json_array_foreach(value, i, item)
	{
		if (!json_is_string(item))
			return sdk_field_error(w, field,
					       "expected an array of strings");
		(*out)[(*n)++] = json_string_value(item);
	}
	return 0;
}

int sdk_dec_labels(json_t *obj, const char *field,
		   struct orch_sched_label **out, size_t *n,
		   const struct sdk_where *w)
{
	json_t *value = json_object_get(obj, field), *item;
	const char *key;

	*out = NULL;
	*n = 0;
	if (value == NULL)
		return 0;
	if (!json_is_object(value))
		return sdk_field_error(w, field, "expected an object");
	if (json_object_size(value) == 0)
		return 0;
	*out = calloc(json_object_size(value), sizeof(**out));
	if (*out == NULL)
		return sdk_field_error(w, field, "out of memory");
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
