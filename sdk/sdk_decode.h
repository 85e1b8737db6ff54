/*
 * sdk_decode.h: the SDK's own strict JSON field decoders, shared by the
 * scheduler and runtime halves (not installed; hidden from liborch-sdk's
 * exported symbols). Every decoder writes an error naming the field,
 * "tasks[2].command: expected an array of strings", and returns -1.
 */
#ifndef SDK_DECODE_H
#define SDK_DECODE_H

#include "orch_sdk.h"

#define SDK_HIDDEN __attribute__((visibility("hidden")))

/* Where a field lives, for error messages: "nodes[2]" or "tasks[0]". */
struct sdk_where {
	const char *array;
	size_t index;
	char *err;
	size_t errlen;
};

/* "<array>[<index>].<field>: <what>"; returns -1. */
SDK_HIDDEN int sdk_field_error(const struct sdk_where *w, const char *field,
			       const char *what);
/* "<array>[<index>]: expected an object" unless obj is one. */
SDK_HIDDEN int sdk_dec_object(json_t *obj, const struct sdk_where *w);
/* A string field; when absent, def (NULL: the field is required). */
SDK_HIDDEN int sdk_dec_string(json_t *obj, const char *field, const char *def,
			      const char **out, const struct sdk_where *w);
/* A non-negative integer; 0 when absent. */
SDK_HIDDEN int sdk_dec_count(json_t *obj, const char *field, int64_t *out,
			     const struct sdk_where *w);
/* {"nano_cpus":N,"memory_bytes":N}; zeros when absent. */
SDK_HIDDEN int sdk_dec_resources(json_t *obj, const char *field,
				 struct orch_sched_resources *out,
				 const struct sdk_where *w);
/* An array of strings into a calloc'd array; empty when absent. */
SDK_HIDDEN int sdk_dec_strings(json_t *obj, const char *field,
			       const char ***out, size_t *n,
			       const struct sdk_where *w);
/* {"k":"v"...} into a calloc'd array; empty when absent. */
SDK_HIDDEN int sdk_dec_labels(json_t *obj, const char *field,
			      struct orch_sched_label **out, size_t *n,
			      const struct sdk_where *w);

#endif
