/*
 * orch_wire.c: JSON messages and one request/reply exchange over nng, as
 * the plugin SDK and the cluster transport speak them (orch_wire.h). No
 * state of its own: an exchange owns its context and aio while it runs.
 */
#include "orch_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *orch_wire_verror(int version, const char *fmt, va_list ap)
{
	char text[1024];

	vsnprintf(text, sizeof(text), fmt, ap);
	return json_pack("{s:i, s:s}", "v", version, "error", text);
}

json_t *orch_wire_error(int version, const char *fmt, ...)
{
	json_t *error;
	va_list ap;

	va_start(ap, fmt);
	error = orch_wire_verror(version, fmt, ap);
	va_end(ap);
	return error;
}

nng_msg *orch_wire_encode(json_t *object)
{
	char *text = json_dumps(object, JSON_COMPACT);
	nng_msg *msg = NULL;

	if (text == NULL)
		return NULL;
	if (nng_msg_alloc(&msg, 0) != 0)
		msg = NULL;
	else if (nng_msg_append(msg, text, strlen(text)) != 0) {
		nng_msg_free(msg);
		msg = NULL;
	}
	free(text);
	return msg;
}

json_t *orch_wire_decode(nng_msg *msg, int version, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *value, *v;

	value = json_loadb(nng_msg_body(msg), nng_msg_len(msg), 0, &jerr);
	if (value == NULL) {
		orch_errorf(why, whylen, "not JSON (%s at byte %d)",
				 jerr.text, jerr.position);
		return NULL;
	}
	if (!json_is_object(value)) {
		json_decref(value);
		orch_errorf(why, whylen, "not a JSON object");
		return NULL;
	}
	v = json_object_get(value, "v");
	if (!json_is_integer(v) || json_integer_value(v) != version) {
		json_decref(value);
		orch_errorf(why, whylen, "\"v\" must be %d", version);
		return NULL;
	}
	return value;
}

bool orch_wire_stamp(json_t *object, int version)
{
	return json_object_set_new(object, "v", json_integer(version)) == 0;
}

nng_duration orch_wire_remaining(nng_time start, int timeout_ms)
{
	nng_time now = nng_clock(), deadline;

	if (timeout_ms < 0)
		return NNG_DURATION_INFINITE;
	deadline = start + (nng_time)timeout_ms;
	/* NNG_DURATION_ZERO: an operation fails with NNG_ETIMEDOUT at once. */
	return now >= deadline ? NNG_DURATION_ZERO
			       : (nng_duration)(deadline - now);
}

int orch_wire_step(nng_ctx ctx, nng_aio *aio, bool send,
		   nng_duration timeout)
{
	nng_aio_set_timeout(aio, timeout);
	if (send)
		nng_ctx_send(ctx, aio);
	else
		nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	return nng_aio_result(aio);
}

int orch_wire_exchange(nng_socket socket, const char *url, nng_msg *request,
		       nng_time start, int timeout_ms, nng_msg **reply,
		       char *err, size_t errlen)
{
	nng_aio *aio = NULL;
	nng_ctx ctx;
	int rv;

	*reply = NULL;
	rv = nng_aio_alloc(&aio, NULL, NULL);
	if (rv == 0 && (rv = nng_ctx_open(&ctx, socket)) != 0)
		nng_aio_free(aio);
	if (rv != 0) {
		nng_msg_free(request);
		orch_errorf(err, errlen, "cannot call %s: %s", url,
				 nng_strerror(rv));
		return -1;
	}
	nng_aio_set_msg(aio, request);
	rv = orch_wire_step(ctx, aio, true,
			    orch_wire_remaining(start, timeout_ms));
	if (rv != 0) {
		nng_msg_free(request);
		orch_errorf(err, errlen, "cannot send to %s: %s", url,
				 nng_strerror(rv));
	} else {
		rv = orch_wire_step(ctx, aio, false,
				    orch_wire_remaining(start, timeout_ms));
		if (rv == 0)
			*reply = nng_aio_get_msg(aio);
		else
			orch_errorf(err, errlen, "no reply from %s: %s",
					 url, nng_strerror(rv));
	}
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return rv == 0 ? 0 : -1;
}
