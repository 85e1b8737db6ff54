/*
 * orch_wire.h: the pieces every nng request/reply speaker of orchd shares
 * (the plugin SDK in sdk/orch_sdk.c and the cluster transport in
 * core/net): one compact JSON object per message, an error text formatter,
 * and one request/reply exchange on a context of its own with a deadline.
 *
 * Internal to liborch-sdk and orchd: not installed, not part of the plugin
 * ABI (orch_sdk.h). No state: every function works on what it is given.
 */
#ifndef ORCH_WIRE_H
#define ORCH_WIRE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "orch_sdk.h"

/* Error texts are written with orch_errorf (orch_sdk.h). */
/* {"v": version, "error": <formatted text>}, or NULL when out of memory. */
json_t *orch_wire_verror(int version, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
json_t *orch_wire_error(int version, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A new message holding object as compact JSON; NULL when out of memory. */
nng_msg *orch_wire_encode(json_t *object);

/* The message body as one JSON object whose "v" is version; NULL with why
 * (errlen bytes) when it is not JSON, not an object or not that version. */
json_t *orch_wire_decode(nng_msg *msg, int version, char *why, size_t whylen);

/* Sets "v": version on object; false when out of memory. */
bool orch_wire_stamp(json_t *object, int version);

/* What is left of timeout_ms (< 0: forever) started at start (nng_clock). */
nng_duration orch_wire_remaining(nng_time start, int timeout_ms);

/* One send (send true: the message set on aio) or receive on ctx through
 * aio within timeout, waited for: 0 or the nng error. */
int orch_wire_step(nng_ctx ctx, nng_aio *aio, bool send,
		   nng_duration timeout);

/* Sends request (stolen) on a context of its own on socket and waits for
 * the reply, both within timeout_ms (< 0: forever) of start (nng_clock),
 * so several threads may call through one socket and a caller may spend
 * one budget on several exchanges. 0 with *reply, or -1 with err naming
 * url ("cannot send to URL: ...", "no reply from URL: ..."). */
int orch_wire_exchange(nng_socket socket, const char *url, nng_msg *request,
		       nng_time start, int timeout_ms, nng_msg **reply,
		       char *err, size_t errlen);

#endif
