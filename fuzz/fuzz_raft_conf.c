/*
 * fuzz_raft_conf.c: libFuzzer target for raft_conf_decode, the decoder of
 * membership found in CONF entries and snapshots (bytes from disk or from
 * a peer).
 *
 * Decodes arbitrary bytes as a struct raft_conf. An accepted conf must be
 * sane (counts within RAFT_MAX_NODES, no node 0, no node listed twice), and
 * must be in canonical form: encoding it gives back exactly the input bytes
 * (within RAFT_CONF_MAX_BYTES), and those decode to the same membership. Any crash, overread or abort is a
 * finding. The target keeps no state between inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft.h"

static int fuzz_conf_lists_node(const struct raft_conf *c, uint64_t id,
				uint32_t skip_voter, uint32_t skip_learner)
{
	int seen = 0;

	for (uint32_t i = 0; i < c->n_voters; i++)
		seen += i != skip_voter && c->voters[i] == id;
	for (uint32_t i = 0; i < c->n_learners; i++)
		seen += i != skip_learner && c->learners[i] == id;
	return seen;
}

static void fuzz_check_sane(const struct raft_conf *c)
{
	if (c->n_voters > RAFT_MAX_NODES || c->n_learners > RAFT_MAX_NODES)
		abort();
	for (uint32_t i = 0; i < c->n_voters; i++) {
		if (c->voters[i] == RAFT_NONE ||
		    fuzz_conf_lists_node(c, c->voters[i], i, UINT32_MAX) != 0)
			abort();
	}
	for (uint32_t i = 0; i < c->n_learners; i++) {
		if (c->learners[i] == RAFT_NONE ||
		    fuzz_conf_lists_node(c, c->learners[i], UINT32_MAX, i) != 0)
			abort();
	}
}

static void fuzz_check_round_trip(const struct raft_conf *c,
				  const uint8_t *input, size_t size)
{
	uint8_t buf[RAFT_CONF_MAX_BYTES];
	struct raft_conf back;
	size_t len = raft_conf_encode(c, buf);

	if (len > RAFT_CONF_MAX_BYTES || len != size ||
	    memcmp(buf, input, size) != 0)
		abort();
	memset(&back, 0, sizeof(back));
	if (raft_conf_decode(buf, len, &back) != RAFT_OK)
		abort();
	if (back.n_voters != c->n_voters || back.n_learners != c->n_learners)
		abort();
	if (memcmp(back.voters, c->voters,
		   c->n_voters * sizeof(c->voters[0])) != 0 ||
	    memcmp(back.learners, c->learners,
		   c->n_learners * sizeof(c->learners[0])) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft_conf c;

	memset(&c, 0, sizeof(c));
	if (raft_conf_decode(data, size, &c) != RAFT_OK)
		return 0;
	fuzz_check_sane(&c);
	fuzz_check_round_trip(&c, data, size);
	return 0;
}
