/*
 * raft_transport.c: raft messages between managers (see raft_transport.h).
 * State owned here: the TLS material, and per peer its address, bounded
 * queue of encoded messages, sender thread and cluster_net client. The
 * core thread only appends to queues under each peer's lock.
 */
#include "raft_transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsutil.h"
#include "hex.h"
#include "cluster_net.h"

#define RAFT_TRANSPORT_CALL_TIMEOUT_MS 2000
#define RAFT_TRANSPORT_RETRY_MS 200

struct transport_peer {
	struct raft_transport *t;
	uint64_t id;
	pthread_t thread;
	pthread_mutex_t lock; /* guards what follows */
	pthread_cond_t wake;
	char addr[200];
	bool addr_changed;
	bool stopping;
	char *queue[RAFT_TRANSPORT_QUEUE]; /* ring of hex messages */
	size_t head, count;
	struct cluster_net_client *client; /* sender thread only */
};

struct raft_transport {
	char *ca_pem, *cert_pem, *key_pem;
	pthread_mutex_t lock; /* guards peers */
	struct transport_peer *peers[2 * RAFT_MAX_NODES];
	size_t n_peers;
	/* Messages dropped, all peers. Atomic: a peer thread counts its
	 * drops while holding its own lock, and the lock order is transport
	 * then peer, never the other way. */
	atomic_uint_fast64_t dropped;
};

/* ------------------------------------------------------------ codec */

char *raft_transport_encode(const struct raft_msg *msg)
{
	size_t len = raft_msg_encoded_size(msg);
	uint8_t *bytes = malloc(len ? len : 1);
	char *hex = malloc(2 * len + 1);
	if (!bytes || !hex) {
		free(bytes);
		free(hex);
		return NULL;
	}
	raft_msg_encode(msg, bytes);
	hex_encode(bytes, len, hex);
	free(bytes);
	return hex;
}

int raft_transport_decode(const char *hex, uint8_t **buf, struct raft_msg *msg)
{
	size_t n = strlen(hex);
	*buf = NULL;
	if (n == 0 || n % 2)
		return -1;
	uint8_t *bytes = malloc(n / 2);
	if (!bytes)
		return -1;
	size_t len;
	if (hex_decode(hex, bytes, n / 2, &len) != 0 ||
	    raft_msg_decode(bytes, len, msg) != 0) {
		free(bytes);
		return -1;
	}
	*buf = bytes;
	return 0;
}

/* ----------------------------------------------------------- senders */

/* Waits up to ms on the peer's condition (lock held). */
static void peer_wait(struct transport_peer *p, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&p->wake, &p->lock, &ts);
}

/* Takes up to RAFT_TRANSPORT_BATCH queued messages (lock held). */
static json_t *peer_take_batch(struct transport_peer *p)
{
	json_t *msgs = json_array();
	while (p->count && json_array_size(msgs) < RAFT_TRANSPORT_BATCH) {
		char *hex = p->queue[p->head];
		p->head = (p->head + 1) % RAFT_TRANSPORT_QUEUE;
		p->count--;
		json_array_append_new(msgs, json_string(hex));
		free(hex);
	}
	return msgs;
}

/* Delivers one batch; false when the peer could not be reached. */
static bool peer_deliver(struct transport_peer *p, const char *addr,
			 json_t *msgs)
{
	char err[512];
	if (!p->client) {
		char url[260];
		snprintf(url, sizeof(url), "tls+tcp://%s", addr);
		struct cluster_net_tls tls = { .ca_pem = p->t->ca_pem,
					       .cert_pem = p->t->cert_pem,
					       .key_pem = p->t->key_pem };
		if (cluster_net_client_open(url, &tls, "swarm-manager", &p->client, err,
					    sizeof(err)) != 0) {
			p->client = NULL;
			json_decref(msgs);
			return false;
		}
	}
	json_t *req = json_pack("{s:s,s:o}", "op", "raft", "msgs", msgs);
	json_t *reply = NULL;
	int rc = cluster_net_call(p->client, req, RAFT_TRANSPORT_CALL_TIMEOUT_MS, &reply,
				  err, sizeof(err));
	bool ok = rc == 0 && json_is_true(json_object_get(reply, "ok"));
	json_decref(reply);
	if (rc != 0) {
		cluster_net_client_close(p->client);
		p->client = NULL;
	}
	return ok;
}

static void *peer_main(void *arg)
{
	struct transport_peer *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		if (!p->count) {
			peer_wait(p, 1000);
			continue;
		}
		if (p->addr_changed && p->client) {
			cluster_net_client_close(p->client);
			p->client = NULL;
		}
		p->addr_changed = false;
		char addr[200];
		snprintf(addr, sizeof(addr), "%s", p->addr);
		json_t *msgs = peer_take_batch(p);
		size_t n = json_array_size(msgs);
		pthread_mutex_unlock(&p->lock);
		bool ok = peer_deliver(p, addr, msgs);
		pthread_mutex_lock(&p->lock);
		if (!ok) {
			atomic_fetch_add(&p->t->dropped, n);
			if (!p->stopping)
				peer_wait(p, RAFT_TRANSPORT_RETRY_MS);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static struct transport_peer *transport_find(struct raft_transport *t, uint64_t id)
{
	for (size_t i = 0; i < t->n_peers; i++)
		if (t->peers[i]->id == id)
			return t->peers[i];
	return NULL;
}

/* ------------------------------------------------------------ public */

int raft_transport_new(const char *cert_dir, struct raft_transport **out,
		       char *err, size_t errlen)
{
	struct raft_transport *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&t->lock, NULL);
	const char *files[3] = { PKI_CA_CERT_FILE, PKI_NODE_CERT_FILE, PKI_NODE_KEY_FILE };
	char **dst[3] = { &t->ca_pem, &t->cert_pem, &t->key_pem };
	for (int i = 0; i < 3; i++) {
		char path[700];
		snprintf(path, sizeof(path), "%s/%s", cert_dir, files[i]);
		if (!(*dst[i] = util_read_file(path, err, errlen))) {
			raft_transport_free(t);
			return -1;
		}
	}
	*out = t;
	return 0;
}

void raft_transport_free(struct raft_transport *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_peers; i++) {
		struct transport_peer *p = t->peers[i];
		pthread_mutex_lock(&p->lock);
		p->stopping = true;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
		cluster_net_client_close(p->client);
		while (p->count) {
			free(p->queue[p->head]);
			p->head = (p->head + 1) % RAFT_TRANSPORT_QUEUE;
			p->count--;
		}
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->wake);
		free(p);
	}
	pthread_mutex_destroy(&t->lock);
	free(t->ca_pem);
	free(t->cert_pem);
	free(t->key_pem);
	free(t);
}

int raft_transport_set_peer(struct raft_transport *t, uint64_t id,
			    const char *addr)
{
	pthread_mutex_lock(&t->lock);
	struct transport_peer *p = transport_find(t, id);
	if (p) {
		pthread_mutex_lock(&p->lock);
		if (strcmp(p->addr, addr) != 0) {
			snprintf(p->addr, sizeof(p->addr), "%s", addr);
			p->addr_changed = true;
		}
		pthread_mutex_unlock(&p->lock);
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	if (t->n_peers == sizeof(t->peers) / sizeof(t->peers[0]) ||
	    !(p = calloc(1, sizeof(*p)))) {
		pthread_mutex_unlock(&t->lock);
		return -1;
	}
	p->t = t;
	p->id = id;
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->thread, NULL, peer_main, p) != 0) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->wake);
		free(p);
		pthread_mutex_unlock(&t->lock);
		return -1;
	}
	t->peers[t->n_peers++] = p;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int raft_transport_send(struct raft_transport *t, const struct raft_msg *msg)
{
	pthread_mutex_lock(&t->lock);
	struct transport_peer *p = transport_find(t, msg->to);
	pthread_mutex_unlock(&t->lock);
	char *hex = p ? raft_transport_encode(msg) : NULL;
	if (!hex) {
		atomic_fetch_add(&t->dropped, 1);
		return -1;
	}
	pthread_mutex_lock(&p->lock);
	bool full = p->count == RAFT_TRANSPORT_QUEUE;
	if (!full) {
		p->queue[(p->head + p->count) % RAFT_TRANSPORT_QUEUE] = hex;
		p->count++;
		pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->lock);
	if (full) {
		free(hex);
		atomic_fetch_add(&t->dropped, 1);
		return -1;
	}
	return 0;
}

uint64_t raft_transport_dropped(struct raft_transport *t)
{
	return atomic_load(&t->dropped);
}
