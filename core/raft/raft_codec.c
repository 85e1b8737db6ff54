/*
 * raft_codec.c: the wire format of raft messages between orchd managers.
 *
 * Turns a struct raft_msg into bytes and back. The format is little-endian,
 * fixed-width and versioned; it has exactly one encoding per message so that
 * decode(encode(m)) == m and encode(decode(b)) == b for every accepted b:
 *
 *   u8  version (RAFT_CODEC_VERSION)      u8  type
 *   u64 from, to, term, index, log_term, commit
 *   u8  reject (0/1)   u64 reject_hint   u64 context   u8 transfer (0/1)
 *   APPEND only:   u32 n_entries, then per entry
 *                  u64 term, u64 index, u8 type, u32 len, len bytes of data
 *   SNAPSHOT only: u64 meta.index, u64 meta.term,
 *                  u32 n_voters, n_voters x u64, u32 n_learners, n x u64,
 *                  u64 offset, u64 total, u8 done (0/1),
 *                  u32 chunk_len, chunk_len bytes of chunk
 *
 * Bytes come from the network, so the decoder trusts nothing: every read is
 * checked against the bytes left, counts are checked against what the bytes
 * left could hold before anything is allocated, and any value that the
 * encoder could not have produced (unknown version or type, a bool that is
 * not 0/1, trailing bytes, entries not following the preceding index, a
 * chunk outside the snapshot) is rejected with RAFT_EINVAL.
 *
 * The decoder is zero-copy: entry data and the snapshot chunk point into the
 * caller's buffer; only the entries array is allocated (freed by
 * raft_msg_decoded_free; RAFT_ENOMEM if that fails). The file owns no
 * state.
 */
#include "raft.h"
#include "raft_le.h"

#include <stdlib.h>
#include <string.h>

#define RAFT_CODEC_VERSION 1

/* Fixed part: version, type, six u64, reject, reject_hint, context,
 * transfer. */
#define RAFT_CODEC_HEADER_BYTES (1 + 1 + 6 * 8 + 1 + 8 + 8 + 1)
/* Per entry before its data: term, index, type, len. */
#define RAFT_CODEC_ENTRY_HEADER_BYTES (8 + 8 + 1 + 4)

/* ---- encoding ---------------------------------------------------------- */

struct raft_writer {
	uint8_t *p;
};

static void raft_put_u8(struct raft_writer *w, uint8_t v)
{
	*w->p++ = v;
}

static void raft_put_u32(struct raft_writer *w, uint32_t v)
{
	raft_le_put32(w->p, v);
	w->p += 4;
}

static void raft_put_u64(struct raft_writer *w, uint64_t v)
{
	raft_le_put64(w->p, v);
	w->p += 8;
}

static void raft_put_bytes(struct raft_writer *w, const uint8_t *src,
			   size_t len)
{
	if (len > 0) {
		memcpy(w->p, src, len);
		w->p += len;
	}
}

static size_t raft_snapshot_fields_size(const struct raft_msg *m)
{
	const struct raft_conf *c = &m->snap_meta.conf;

	return 8 + 8 + 4 + 8 * (size_t)c->n_voters + 4 +
	       8 * (size_t)c->n_learners + 8 + 8 + 1 + 4 + m->snap_chunk_len;
}

size_t raft_msg_encoded_size(const struct raft_msg *m)
{
	size_t size = RAFT_CODEC_HEADER_BYTES;

	if (m->type == RAFT_MSG_APPEND) {
		size += 4;
		for (uint32_t i = 0; i < m->n_entries; i++)
			size += RAFT_CODEC_ENTRY_HEADER_BYTES +
				m->entries[i].len;
	}
	if (m->type == RAFT_MSG_SNAPSHOT)
		size += raft_snapshot_fields_size(m);
	return size;
}

static void raft_encode_entries(struct raft_writer *w,
				const struct raft_msg *m)
{
	raft_put_u32(w, m->n_entries);
	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];

		raft_put_u64(w, e->term);
		raft_put_u64(w, e->index);
		raft_put_u8(w, e->type);
		raft_put_u32(w, e->len);
		raft_put_bytes(w, e->data, e->len);
	}
}

static void raft_encode_snapshot(struct raft_writer *w,
				 const struct raft_msg *m)
{
	const struct raft_conf *c = &m->snap_meta.conf;

	raft_put_u64(w, m->snap_meta.index);
	raft_put_u64(w, m->snap_meta.term);
	raft_put_u32(w, c->n_voters);
	for (uint32_t i = 0; i < c->n_voters; i++)
		raft_put_u64(w, c->voters[i]);
	raft_put_u32(w, c->n_learners);
	for (uint32_t i = 0; i < c->n_learners; i++)
		raft_put_u64(w, c->learners[i]);
	raft_put_u64(w, m->snap_offset);
	raft_put_u64(w, m->snap_total);
	raft_put_u8(w, m->snap_done ? 1 : 0);
	raft_put_u32(w, m->snap_chunk_len);
	raft_put_bytes(w, m->snap_chunk, m->snap_chunk_len);
}

void raft_msg_encode(const struct raft_msg *m, uint8_t *buf)
{
	struct raft_writer w = { .p = buf };

	raft_put_u8(&w, RAFT_CODEC_VERSION);
	raft_put_u8(&w, m->type);
	raft_put_u64(&w, m->from);
	raft_put_u64(&w, m->to);
	raft_put_u64(&w, m->term);
	raft_put_u64(&w, m->index);
	raft_put_u64(&w, m->log_term);
	raft_put_u64(&w, m->commit);
	raft_put_u8(&w, m->reject ? 1 : 0);
	raft_put_u64(&w, m->reject_hint);
	raft_put_u64(&w, m->context);
	raft_put_u8(&w, m->transfer ? 1 : 0);
	if (m->type == RAFT_MSG_APPEND)
		raft_encode_entries(&w, m);
	if (m->type == RAFT_MSG_SNAPSHOT)
		raft_encode_snapshot(&w, m);
}

/* ---- decoding ---------------------------------------------------------- */

/* A cursor over untrusted bytes. Every getter checks the bytes left first
 * and returns false (reading nothing) when they are too few. */
struct raft_reader {
	const uint8_t *p;
	size_t left;
};

/* The next n bytes of the buffer, consumed; NULL when fewer are left. */
static const uint8_t *raft_take(struct raft_reader *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->left < n)
		return NULL;
	r->p += n;
	r->left -= n;
	return p;
}

static bool raft_get_u8(struct raft_reader *r, uint8_t *v)
{
	const uint8_t *p = raft_take(r, 1);

	if (p != NULL)
		*v = p[0];
	return p != NULL;
}

static bool raft_get_u32(struct raft_reader *r, uint32_t *v)
{
	const uint8_t *p = raft_take(r, 4);

	if (p != NULL)
		*v = raft_le_get32(p);
	return p != NULL;
}

static bool raft_get_u64(struct raft_reader *r, uint64_t *v)
{
	const uint8_t *p = raft_take(r, 8);

	if (p != NULL)
		*v = raft_le_get64(p);
	return p != NULL;
}

static bool raft_get_bool(struct raft_reader *r, bool *v)
{
	uint8_t byte;

	if (!raft_get_u8(r, &byte) || byte > 1)
		return false;
	*v = byte == 1;
	return true;
}

/* Points *data at the next len bytes of the buffer (NULL when len is 0, so
 * that an empty payload has a single representation). */
static bool raft_get_span(struct raft_reader *r, uint32_t len, uint8_t **data)
{
	const uint8_t *p = raft_take(r, len);

	if (p == NULL)
		return false;
	/* The decoded message never writes through this pointer; the cast only
	 * drops const because struct raft_msg is shared with the engine. */
	*data = len > 0 ? (uint8_t *)p : NULL;
	return true;
}

static bool raft_decode_header(struct raft_reader *r, struct raft_msg *m)
{
	uint8_t version;

	if (!raft_get_u8(r, &version) || version != RAFT_CODEC_VERSION)
		return false;
	if (!raft_get_u8(r, &m->type) || m->type < RAFT_MSG_APPEND ||
	    m->type > RAFT_MSG_TYPE_MAX)
		return false;
	if (!raft_get_u64(r, &m->from) || !raft_get_u64(r, &m->to) ||
	    !raft_get_u64(r, &m->term) || !raft_get_u64(r, &m->index) ||
	    !raft_get_u64(r, &m->log_term) || !raft_get_u64(r, &m->commit))
		return false;
	if (!raft_get_bool(r, &m->reject) || !raft_get_u64(r, &m->reject_hint) ||
	    !raft_get_u64(r, &m->context) || !raft_get_bool(r, &m->transfer))
		return false;
	/* Node ids are never 0 (RAFT_NONE). */
	return m->from != RAFT_NONE && m->to != RAFT_NONE;
}

static bool raft_entry_type_valid(uint8_t type)
{
	return type == RAFT_ENTRY_NORMAL || type == RAFT_ENTRY_CONF ||
	       type == RAFT_ENTRY_NOOP;
}

/* Entry i of an APPEND must sit at prev index + 1 + i. */
static bool raft_decode_entry(struct raft_reader *r, uint64_t want_index,
			      struct raft_entry *e)
{
	if (!raft_get_u64(r, &e->term) || !raft_get_u64(r, &e->index) ||
	    !raft_get_u8(r, &e->type) || !raft_get_u32(r, &e->len))
		return false;
	if (e->index != want_index || !raft_entry_type_valid(e->type))
		return false;
	return raft_get_span(r, e->len, &e->data);
}

static int raft_decode_entries(struct raft_reader *r, struct raft_msg *m)
{
	uint32_t n;

	if (!raft_get_u32(r, &n))
		return RAFT_EINVAL;
	/* Refuse a count the remaining bytes cannot hold before allocating,
	 * and indexes that would wrap around. */
	if (n > r->left / RAFT_CODEC_ENTRY_HEADER_BYTES ||
	    m->index > UINT64_MAX - n)
		return RAFT_EINVAL;
	if (n == 0)
		return RAFT_OK;
	m->entries = calloc(n, sizeof(*m->entries));
	if (m->entries == NULL)
		return RAFT_ENOMEM;
	m->n_entries = n;
	for (uint32_t i = 0; i < n; i++) {
		if (!raft_decode_entry(r, m->index + 1 + i, &m->entries[i]))
			return RAFT_EINVAL;
	}
	return RAFT_OK;
}

/* Reads a u32 count and count node ids: at most RAFT_MAX_NODES, none 0. */
static bool raft_decode_node_list(struct raft_reader *r, uint32_t *n,
				  uint64_t *ids)
{
	if (!raft_get_u32(r, n) || *n > RAFT_MAX_NODES)
		return false;
	for (uint32_t i = 0; i < *n; i++) {
		if (!raft_get_u64(r, &ids[i]) || ids[i] == RAFT_NONE)
			return false;
	}
	return true;
}

static bool raft_conf_has_duplicates(const struct raft_conf *c)
{
	uint64_t all[2 * RAFT_MAX_NODES];
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->n_voters; i++)
		all[n++] = c->voters[i];
	for (uint32_t i = 0; i < c->n_learners; i++)
		all[n++] = c->learners[i];
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t j = i + 1; j < n; j++) {
			if (all[i] == all[j])
				return true;
		}
	}
	return false;
}

static bool raft_decode_snapshot(struct raft_reader *r, struct raft_msg *m)
{
	struct raft_conf *c = &m->snap_meta.conf;

	if (!raft_get_u64(r, &m->snap_meta.index) ||
	    !raft_get_u64(r, &m->snap_meta.term))
		return false;
	if (!raft_decode_node_list(r, &c->n_voters, c->voters) ||
	    !raft_decode_node_list(r, &c->n_learners, c->learners) ||
	    raft_conf_has_duplicates(c))
		return false;
	if (!raft_get_u64(r, &m->snap_offset) ||
	    !raft_get_u64(r, &m->snap_total) ||
	    !raft_get_bool(r, &m->snap_done) ||
	    !raft_get_u32(r, &m->snap_chunk_len) ||
	    !raft_get_span(r, m->snap_chunk_len, &m->snap_chunk))
		return false;
	/* The chunk lies inside the snapshot, and the last one ends it. */
	if (m->snap_offset > m->snap_total ||
	    m->snap_chunk_len > m->snap_total - m->snap_offset)
		return false;
	return !m->snap_done ||
	       m->snap_offset + m->snap_chunk_len == m->snap_total;
}

int raft_msg_decode(const uint8_t *buf, size_t len, struct raft_msg *m)
{
	struct raft_reader r = { .p = buf, .left = len };
	int err = RAFT_OK;

	memset(m, 0, sizeof(*m));
	if (buf == NULL || !raft_decode_header(&r, m))
		err = RAFT_EINVAL;
	if (err == RAFT_OK && m->type == RAFT_MSG_APPEND)
		err = raft_decode_entries(&r, m);
	if (err == RAFT_OK && m->type == RAFT_MSG_SNAPSHOT &&
	    !raft_decode_snapshot(&r, m))
		err = RAFT_EINVAL;
	if (err == RAFT_OK && r.left != 0)
		err = RAFT_EINVAL; /* trailing garbage */
	if (err != RAFT_OK) {
		raft_msg_decoded_free(m);
		memset(m, 0, sizeof(*m));
	}
	return err;
}

void raft_msg_decoded_free(struct raft_msg *m)
{
	if (m == NULL)
		return;
	free(m->entries);
	m->entries = NULL;
	m->n_entries = 0;
}
