/*
 * cluster_internal.h: what the files of core/cluster share behind the door
 * cluster.h: the timeouts, two small helpers, reading a node's material
 * from a directory, and the worker link's state (struct cluster_worker)
 * with the functions that cluster_join.c (joining, saved material) and
 * cluster_worker.c (the link itself) both use.
 */
#ifndef ORCHD_CLUSTER_INTERNAL_H
#define ORCHD_CLUSTER_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "cluster_net.h"
#include "pki.h"

#define CLUSTER_FETCH_TIMEOUT_MS 5000
#define CLUSTER_JOIN_TIMEOUT_MS 10000
/* A renewal is retried by the role keeper a second later: short, so that
 * orchd never waits long on one when it stops. */
#define CLUSTER_RENEW_TIMEOUT_MS 5000
#define CLUSTER_SEND_TIMEOUT_MS 3000
#define CLUSTER_SESSION_MARGIN_MS 2000

static inline const char *cluster_jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* "IP:PORT" -> "tls+tcp://IP:PORT"; a missing port becomes 2377. */
static inline void cluster_url(const char *addr, char *url, size_t len)
{
	if (strchr(addr, ':'))
		snprintf(url, len, "tls+tcp://%s", addr);
	else
		snprintf(url, len, "tls+tcp://%s:%d", addr, CLUSTER_NET_PORT);
}

/* The CA certificate, node certificate and node key PEM files of dir, in
 * that order (malloc'd); on failure none is kept. */
int cluster_read_material(const char *dir, char *pems[3], char *err,
			  size_t errlen);

/* ------------------------------------------------------- the worker link */

struct cluster_worker {
	char dir[512];
	char node_id[PKI_ID_MAX + 1];
	char manager_addr[256];
	char manager_node_id[PKI_ID_MAX + 1];
	char advertise_addr[128];
	char *ca_pem, *cert_pem, *key_pem;
	pthread_mutex_t lock;              /* guards what follows */
	struct cluster_net_client *client; /* NULL until (re)connected */
	json_t *node_info;                 /* last description from the agent */
	bool info_pending;                 /* not yet sent on this connection */
	bool managers_pending;             /* manager list not yet asked */
	int heartbeat_ms;
	json_t *managers;                  /* every manager's address */
	size_t next_manager;               /* tried after a failed connection */
	bool is_manager;                   /* joined with a manager token */
	json_t *joined;                    /* join answer: ca_key, leader */
	/* Clients replaced after a failure: another thread may still be in a
	 * call on one, so they are closed only when the link is freed. */
	struct cluster_net_client **retired;
	size_t n_retired;
};


struct cluster_worker *cluster_worker_new(const char *dir, const char *node_id);
/* The client, connected (and authenticated) now if it was not. */
struct cluster_net_client *cluster_worker_client(struct cluster_worker *w,
						 char *err, size_t errlen);
/* Saves the material and the manager's address in w->dir. */
int cluster_worker_save(struct cluster_worker *w, char *err, size_t errlen);
/* The key's PEM text (pki saves keys to files only), through dir. */
char *cluster_key_pem_text(const struct pki_key *key, const char *dir,
			   char *err, size_t errlen);
/* Checks a certificate answer: w->cert_pem chains to ca, is for this node
 * and carries key; sets w->is_manager. */
int cluster_worker_check_cert(struct cluster_worker *w,
			      const struct pki_cert *ca,
			      const struct pki_key *key, char *err,
			      size_t errlen);

#endif
