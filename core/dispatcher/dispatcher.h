/*
 * dispatcher.h: the manager's side of agent sessions. Every agent (the
 * manager node's own, and each worker's over the network) keeps one session
 * request outstanding:
 *
 *   {"op":"session","node_id":ID,"session_id":S,"ack":V}
 *
 * The dispatcher answers it with what changed among the node's tasks since
 * the version the agent acknowledged:
 *
 *   {"session_id":S,"version":V+1,"full":bool,"tasks":[Task...],
 *    "removed":[task id...],"heartbeat_ms":P}
 *
 * (all tasks when "full": a new session, or an ack it does not recognize),
 * at once when there is something to send, otherwise after half a
 * heartbeat period (long poll). A node whose agent has not asked for
 * heartbeat_grace periods is reported as down. Owned by the core thread:
 * the manager calls these functions only from there.
 */
#ifndef ORCHD_DISPATCHER_H
#define ORCHD_DISPATCHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "inbox.h"
#include "store.h"

struct dispatcher;

struct dispatcher *dispatcher_new(void);
/* Answers every held request with an error and frees everything. */
void dispatcher_free(struct dispatcher *d);

/* A session request arrived (reply_to is answered exactly once, now or
 * later). Returns the node id it came from, or NULL for a malformed
 * request (already answered with an error). */
const char *dispatcher_request(struct dispatcher *d, const struct store *s,
			       json_t *request, struct inbox_reply_to *reply_to,
			       int64_t now_ns, int64_t period_ns);
/* Answers held requests that now have something to send or waited one
 * period. */
void dispatcher_step(struct dispatcher *d, const struct store *s,
		     int64_t now_ns, int64_t period_ns);
/* When the node's agent last asked, or 0 if never since this manager
 * started leading. */
int64_t dispatcher_last_seen(const struct dispatcher *d, const char *node_id);
/* Forgets every session (a new leader starts from scratch; agents get a
 * full resync on their next request). Held requests get an error. */
void dispatcher_reset(struct dispatcher *d);
/* Earliest time a held request must be answered, or INT64_MAX. */
int64_t dispatcher_next_deadline(const struct dispatcher *d, int64_t period_ns);

#endif
