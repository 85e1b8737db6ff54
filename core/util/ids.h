/*
 * ids.h: identifiers and random numbers from the kernel (getrandom). Owns
 * no state. Components that must be deterministic in tests take these as
 * function pointers (orchestrator_input.new_id, raft_node_config.rand).
 */
#ifndef ORCHD_IDS_H
#define ORCHD_IDS_H

#include <stdint.h>

/* A new id like Docker's: 25 characters of [0-9a-z], NUL-terminated (buf
 * holds at least 26 bytes). ctx is unused. */
void ids_new_id(void *ctx, char *buf);
/* A uniformly random 64-bit number. ctx is unused. */
uint64_t ids_random(void *ctx);

#endif
