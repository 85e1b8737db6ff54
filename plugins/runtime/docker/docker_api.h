/*
 * docker_api.h: a small client of the Docker Engine API (pinned to v1.41)
 * over the engine's unix socket, built on libcurl and jansson.
 *
 * A struct docker_api owns one curl handle and is used by one thread at a
 * time (the docker plugin gives each worker thread its own). Every call
 * returns DOCKER_API_OK or a negative docker_api_result and then fills err
 * with a message a human can act on; when the engine answered with an error
 * body, err carries the engine's own "message" (for example
 * "No such image: foo:latest").
 *
 * The /events stream has its own object, struct docker_events, which owns
 * a thread and a curl handle of its own, reconnects when the engine goes
 * away, and hands every decoded event to a callback.
 */
#ifndef DOCKER_API_H
#define DOCKER_API_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define DOCKER_API_DEFAULT_SOCKET "/var/run/docker.sock"

enum docker_api_result {
	DOCKER_API_OK = 0,
	DOCKER_API_ERROR = -1,        /* transport failure or engine error */
	DOCKER_API_NOT_FOUND = -2,    /* the engine answered 404 */
	DOCKER_API_NOT_MODIFIED = -3, /* 304: already started / stopped */
	DOCKER_API_UNREACHABLE = -4,  /* cannot connect to the socket */
};

struct docker_api;

/* Opens a client of the engine listening on socket_path. */
int docker_api_open(const char *socket_path, struct docker_api **out,
		    char *err, size_t errlen);
void docker_api_close(struct docker_api *api);
/* Makes every later transfer of api give up (within about a second) once
 * *flag becomes true: how a pool of workers is stopped in the middle of a
 * long pull. flag must outlive api; NULL clears it. */
void docker_api_set_abort(struct docker_api *api, const atomic_bool *flag);

/* GET /_ping. */
int docker_api_ping(struct docker_api *api, char *err, size_t errlen);
/* GET /info; *out is a new object. */
int docker_api_info(struct docker_api *api, json_t **out, char *err,
		    size_t errlen);

/* GET /images/{image}/json; *out (may be NULL) receives a new object. */
int docker_api_image_inspect(struct docker_api *api, const char *image,
			     json_t **out, char *err, size_t errlen);
/* POST /images/create?fromImage=&tag=; reads the whole progress stream and
 * reports an error found in it. */
int docker_api_image_pull(struct docker_api *api, const char *image,
			  char *err, size_t errlen);

/* POST /containers/create?name=; steals nothing; *id is a new string. */
int docker_api_container_create(struct docker_api *api, const char *name,
				json_t *config, char **id, char *err,
				size_t errlen);
int docker_api_container_start(struct docker_api *api, const char *id,
			       char *err, size_t errlen);
/* GET /containers/{id}/json; *out is a new object. */
int docker_api_container_inspect(struct docker_api *api, const char *id,
				 json_t **out, char *err, size_t errlen);
/* POST /containers/{id}/stop?t=timeout_s. */
int docker_api_container_stop(struct docker_api *api, const char *id,
			      int timeout_s, char *err, size_t errlen);
/* POST /containers/{id}/kill?signal=. */
int docker_api_container_kill(struct docker_api *api, const char *id,
			      const char *signal, char *err, size_t errlen);
/* DELETE /containers/{id}?force=&v=1. */
int docker_api_container_remove(struct docker_api *api, const char *id,
				bool force, char *err, size_t errlen);
/* GET /containers/json?all=1&filters=<filters>; filters is borrowed (may be
 * NULL); *out is a new array. */
int docker_api_container_list(struct docker_api *api, json_t *filters,
			      json_t **out, char *err, size_t errlen);
/* GET /containers/{id}/logs, stdout and stderr, last `tail` lines (all when
 * tail <= 0), demultiplexed. *data is a new NUL-terminated buffer. */
int docker_api_container_logs(struct docker_api *api, const char *id,
			      int tail, char **data, size_t *len, char *err,
			      size_t errlen);

/* POST /containers/{id}/exec; argv ends with NULL; *exec_id is new. */
int docker_api_exec_create(struct docker_api *api, const char *id,
			   const char *const *argv, char **exec_id, char *err,
			   size_t errlen);
/* POST /exec/{id}/start, attached; *output (new, NUL-terminated) receives
 * stdout and stderr demultiplexed. */
int docker_api_exec_start(struct docker_api *api, const char *exec_id,
			  char **output, size_t *len, char *err,
			  size_t errlen);
/* GET /exec/{id}/json: the exit code once the command ended. */
int docker_api_exec_inspect(struct docker_api *api, const char *exec_id,
			    int *exit_code, bool *running, char *err,
			    size_t errlen);
/* create + start + inspect. */
int docker_api_exec(struct docker_api *api, const char *id,
		    const char *const *argv, char **output, size_t *len,
		    int *exit_code, char *err, size_t errlen);

/* Splits a multiplexed stream (8-byte frame headers: stream, 0, 0, 0,
 * big-endian length) into one buffer of payloads, in order. The payload
 * of a truncated last frame is kept; a stream that does not start with a
 * valid header (a TTY) is copied raw. *out is a new NUL-terminated buffer. */
int docker_api_demux(const char *in, size_t inlen, char **out,
		     size_t *outlen);

/* ------------------------------------------------------------- events */

/* Called on the events thread for every event (borrowed object). */
typedef void (*docker_events_fn)(void *ctx, json_t *event);
/* Called on the events thread after each (re)connection, before the first
 * event of that connection: the place to catch up on what was missed. */
typedef void (*docker_events_connected_fn)(void *ctx);

struct docker_events;

/* Starts a thread that follows GET /events?filters=<filters> (borrowed)
 * and reconnects (every 0.5 to 5 s) when the stream breaks. */
int docker_events_start(const char *socket_path, json_t *filters,
			docker_events_fn on_event,
			docker_events_connected_fn on_connected, void *ctx,
			struct docker_events **out, char *err, size_t errlen);
/* Stops the thread and frees everything. NULL is fine. */
void docker_events_stop(struct docker_events *events);

#endif
