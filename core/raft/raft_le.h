/*
 * raft_le.h: the one byte order raft writes integers in, on the wire
 * (raft_codec.c), on disk (raft_wal.c) and in configuration entries
 * (raft.c): little-endian, whatever the host's order. Header-only, no
 * state; p must point at 4 (32-bit) or 8 (64-bit) bytes.
 */
#ifndef ORCHD_RAFT_LE_H
#define ORCHD_RAFT_LE_H

#include <stdint.h>

static inline void raft_le_put(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t raft_le_get(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void raft_le_put32(uint8_t *p, uint32_t v)
{
	raft_le_put(p, v, 4);
}

static inline void raft_le_put64(uint8_t *p, uint64_t v)
{
	raft_le_put(p, v, 8);
}

static inline uint32_t raft_le_get32(const uint8_t *p)
{
	return (uint32_t)raft_le_get(p, 4);
}

static inline uint64_t raft_le_get64(const uint8_t *p)
{
	return raft_le_get(p, 8);
}

#endif
