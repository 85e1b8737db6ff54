/*
 * manager_calls.c: the API calls the core thread holds until raft answers
 * them: writes (answered when their entry applies, or failed when a new
 * leader lost it) and reads (answered once raft confirmed the read index
 * and the store applied it). Owns m->writes and m->reads.
 */
#include "manager_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int manager_propose(struct manager *m, json_t *cmd, uint64_t *index,
		    uint64_t *term, char *err, size_t errlen)
{
	if (!m->raft) {
		snprintf(err, errlen, "This node is not a swarm manager. Use \"orchctl swarm init\" to create a swarm and try again.");
		return 503;
	}
	if (!m->leader) {
		snprintf(err, errlen, "this manager is not the raft leader; retry on the leader");
		return 503;
	}
	char *text = json_dumps(cmd, JSON_COMPACT);
	if (!text) {
		snprintf(err, errlen, "out of memory encoding a command");
		return 500;
	}
	int rc = raft_node_propose(m->raft, text, strlen(text), index, term);
	free(text);
	if (rc != 0) {
		const char *failure = raft_node_failure(m->raft);
		snprintf(err, errlen, "cannot accept writes: %s",
			 failure ? failure : raft_strerror(rc));
		return 503;
	}
	return 0;
}

void manager_add_write(struct manager *m, const struct pending_write *w)
{
	if (m->n_writes == m->cap_writes) {
		m->cap_writes = m->cap_writes ? 2 * m->cap_writes : 16;
		m->writes = realloc(m->writes, m->cap_writes * sizeof(*m->writes));
	}
	m->writes[m->n_writes++] = *w;
}

void manager_answer_writes(struct manager *m, uint64_t index, uint64_t term,
			   int rc, const char *err)
{
	for (size_t i = 0; i < m->n_writes; i++) {
		struct pending_write *w = &m->writes[i];
		if (w->index != index)
			continue;
		struct api_call *ac = (void *)w->call->request;
		if (w->term != term)
			api_response_error(ac->resp, 503,
					   "leadership changed before the change was committed; retry");
		else if (rc != 0)
			api_response_error(ac->resp, w->fail_status, "%s", err);
		else if (w->ok_body)
			api_response_json(ac->resp, w->ok_status, json_incref(w->ok_body));
		else
			api_response_set(ac->resp, w->ok_status, "text/plain", "", 0);
		w->index = 0; /* answered; swept by manager_finish_calls */
		if (rc != 0 || w->term != term)
			w->leave_after = false;
	}
}

void manager_finish_calls(struct manager *m)
{
	bool wipe = false;
	size_t kept = 0;
	uint64_t applied = m->raft ? raft_node_applied(m->raft) : 0;
	for (size_t i = 0; i < m->n_writes; i++) {
		struct pending_write *w = &m->writes[i];
		if (w->index != 0 && w->index <= applied) {
			struct api_call *ac = (void *)w->call->request;
			api_response_error(ac->resp, 503, "the change was lost in a leader change; retry");
			w->index = 0;
		}
		if (w->index == 0) {
			wipe |= w->leave_after;
			json_decref(w->ok_body);
			inbox_call_finish(w->call);
			continue;
		}
		m->writes[kept++] = *w;
	}
	m->n_writes = kept;
	kept = 0;
	for (size_t i = 0; i < m->n_reads; i++) {
		struct pending_read *r = &m->reads[i];
		if (r->index != 0 && r->index <= applied) {
			manager_api_answer_read(m, r->call);
			inbox_call_finish(r->call);
			continue;
		}
		if (r->index == 0 && manager_mono_ns(m) > r->deadline_ns) {
			struct api_call *ac = (void *)r->call->request;
			api_response_error(ac->resp, 503,
					   "no raft leader confirmed the read in time; retry");
			inbox_call_finish(r->call);
			continue;
		}
		m->reads[kept++] = *r;
	}
	m->n_reads = kept;
	manager_finish_joins(m, applied);
	if (wipe)
		manager_swarm_wipe(m);
}

/* Reads a follower forwarded to a leader that is gone would wait for
 * their deadline: ask the new leader instead. */
void manager_reissue_reads(struct manager *m)
{
	if (!m->reissue_reads || !m->raft || !m->leader_raft_id)
		return;
	m->reissue_reads = false;
	for (size_t i = 0; i < m->n_reads; i++)
		if (m->reads[i].index == 0)
			raft_node_read(m->raft, m->reads[i].context);
	manager_process_raft(m);
}
