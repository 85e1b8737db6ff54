/*
 * raft_transport.h: raft messages between managers. The core thread hands
 * each outgoing message to raft_transport_send, which encodes it
 * (raft_msg_encode, then hex) and queues it for its peer without blocking;
 * one sender thread per peer takes what is queued, in order, and delivers it
 * in batches as {"op":"raft","msgs":[hex...]} with cluster_net_call to the
 * peer manager's cluster server (port 2377), authenticated with this
 * manager's certificate. A queue holds at most RAFT_TRANSPORT_QUEUE
 * messages: beyond that, and while a peer cannot be reached, messages are
 * dropped (raft retries), so a lost or slow peer never stalls the others.
 * The transport owns the peers (address, queue, thread, client) and the TLS
 * material; the receiving side is in cluster.c and manager.c
 * (raft_transport_decode_batch turns a received batch back into messages).
 */
#ifndef ORCHD_RAFT_TRANSPORT_H
#define ORCHD_RAFT_TRANSPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define RAFT_TRANSPORT_QUEUE 1024
#define RAFT_TRANSPORT_BATCH 64

struct raft_transport;

/* cert_dir holds the CA certificate and this manager's certificate and
 * key (pki.h's file names). */
int raft_transport_new(const char *cert_dir, struct raft_transport **out,
		       char *err, size_t errlen);
/* Stops every sender thread and frees everything (queued messages too). */
void raft_transport_free(struct raft_transport *t);
/* Sets (or changes) the "IP:PORT" where the manager with raft id `id`
 * listens; its sender thread starts on first use. */
int raft_transport_set_peer(struct raft_transport *t, uint64_t id,
			    const char *addr);
/* Queues msg for msg->to; returns 0, or -1 when it was dropped (unknown
 * peer, queue full, out of memory). Never blocks on the network. */
int raft_transport_send(struct raft_transport *t, const struct raft_msg *msg);
/* How many messages were dropped so far (all peers). */
uint64_t raft_transport_dropped(struct raft_transport *t);

/* Pure helpers (tested in tests/core/test_raft_transport.c). */
/* msg as a hex string of its encoding (malloc'd), or NULL. */
char *raft_transport_encode(const struct raft_msg *msg);
/* Parses a hex string: *buf (malloc'd, owns the bytes the message points
 * into) and *msg; free with raft_msg_decoded_free(msg) then free(*buf).
 * Returns 0 or -1 for garbage. */
int raft_transport_decode(const char *hex, uint8_t **buf, struct raft_msg *msg);

#endif
