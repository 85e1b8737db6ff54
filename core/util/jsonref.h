/*
 * jsonref.h: new references for json_pack's "o" conversion, with an empty
 * array or object standing in for a missing value. Owns nothing.
 */
#ifndef ORCHD_JSONREF_H
#define ORCHD_JSONREF_H

#include <jansson.h>

static inline json_t *json_ref_or_array(json_t *value)
{
	return value ? json_incref(value) : json_array();
}

static inline json_t *json_ref_or_object(json_t *value)
{
	return value ? json_incref(value) : json_object();
}

#endif
