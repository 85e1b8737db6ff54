/*
 * raft_test_conf.h: the membership the raft codec and storage tests put
 * in their snapshots: voters 1, 2, 3 and learner 9 (a learner, so that
 * both lists travel). Header-only, no state.
 */
#ifndef ORCHD_RAFT_TEST_CONF_H
#define ORCHD_RAFT_TEST_CONF_H

#include <string.h>

#include "raft.h"

static inline void raft_test_conf(struct raft_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->n_voters = 3;
	c->voters[0] = 1;
	c->voters[1] = 2;
	c->voters[2] = 3;
	c->n_learners = 1;
	c->learners[0] = 9;
}

#endif
