/*
 * manager_sched.c: the scheduler plugin call, which never blocks the core
 * thread. The core thread keeps at most one schedule request in flight:
 * it hands the request to a small caller thread owned by the manager, which
 * makes the (thread-safe) plugin call and posts the answer back into the
 * manager's inbox (INBOX_SCHEDULER_REPLY). Raft keeps ticking meanwhile. A
 * request unanswered after MANAGER_SCHED_DEADLINE_NS leaves its tasks
 * pending with the reason "scheduler NAME did not answer in 5 s"; after a
 * failure or a late answer the next request waits a back-off (1 s, doubled
 * up to 16 s). An answer is used only by the leadership that asked, and
 * each placement is checked again against the store as it is then
 * (scheduling_accept). Owns m->sched and the caller thread's state.
 */
#include "manager_internal.h"
#include "log.h"
#include "orchestrator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define MANAGER_SCHED_DEADLINE_NS (5LL * 1000000000LL)
/* The plugin call itself may run a little past the deadline, so that the
 * core thread, not the call, is the one that reports the silence. */
#define MANAGER_SCHED_CALL_TIMEOUT_MS 5500
#define MANAGER_SCHED_BACKOFF_MIN_NS 1000000000LL
#define MANAGER_SCHED_BACKOFF_MAX_NS (16LL * 1000000000LL)
/* Without a change of state, a round runs again this often. */
#define MANAGER_SCHED_RETRY_NS 1000000000LL

/* The caller thread: one request at a time, taken from the core thread. */
struct sched_caller {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	json_t *request; /* the request to make, or NULL (owned) */
	uint64_t seq;
	char plugin[128];
	int timeout_ms;
	struct plugin_calls plugins;
	struct inbox *inbox;
};

int manager_scheduler_answer(struct inbox *inbox, uint64_t seq,
			     json_t *reply, const char *err)
{
	json_t *body = reply ? json_pack("{s:I,s:o}", "seq", (json_int_t)seq, "reply", reply)
			     : json_pack("{s:I,s:s}", "seq", (json_int_t)seq, "error",
					 err ? err : "no reply");
	return inbox_post(inbox, INBOX_SCHEDULER_REPLY, body, NULL);
}

static void *caller_main(void *arg)
{
	struct sched_caller *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stop && !c->request)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->stop)
			break;
		json_t *request = c->request;
		uint64_t seq = c->seq;
		char plugin[sizeof(c->plugin)];
		snprintf(plugin, sizeof(plugin), "%s", c->plugin);
		c->request = NULL;
		pthread_mutex_unlock(&c->lock);
		json_t *reply = NULL;
		char err[512] = "";
		if (c->plugins.call(c->plugins.ctx, plugin, request, c->timeout_ms, &reply,
				    err, sizeof(err)) != 0)
			reply = NULL;
		/* A closed inbox (the manager stops) refuses the answer. */
		manager_scheduler_answer(c->inbox, seq, reply, err);
		pthread_mutex_lock(&c->lock);
	}
	json_decref(c->request);
	c->request = NULL;
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Hands a request to the caller thread (in place of env.schedule). */
static void caller_submit(void *ctx, uint64_t seq, const char *plugin,
			  json_t *request, int timeout_ms)
{
	struct sched_caller *c = ctx;
	pthread_mutex_lock(&c->lock);
	json_decref(c->request); /* never set: one request in flight */
	c->request = request;
	c->seq = seq;
	c->timeout_ms = timeout_ms;
	snprintf(c->plugin, sizeof(c->plugin), "%s", plugin);
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int manager_sched_start(struct manager *m, char *err, size_t errlen)
{
	struct sched_caller *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->plugins = m->cfg.plugins;
	c->inbox = m->inbox;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (thread_start(&c->thread, caller_main, c, "the scheduler caller thread",
			 err, errlen) != 0) {
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		free(c);
		return -1;
	}
	m->sched.caller = c;
	return 0;
}

/* Waits for a call still running (bounded by its timeout). */
void manager_sched_stop(struct manager *m)
{
	struct sched_caller *c = m->sched.caller;
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
	m->sched.caller = NULL;
}

/* ------------------------------------------------------ core thread side */

static const char *scheduler_name(struct manager *m)
{
	const char *names[1];
	if (m->cfg.scheduler)
		return m->cfg.scheduler;
	if (!m->cfg.plugins.list ||
	    m->cfg.plugins.list(m->cfg.plugins.ctx, ORCH_PLUGIN_SCHEDULER, names, 1) == 0)
		return NULL;
	return names[0];
}

static void sched_backoff(struct manager *m, int64_t now)
{
	struct manager_sched *s = &m->sched;
	if (s->backoff_ns < MANAGER_SCHED_BACKOFF_MIN_NS)
		s->backoff_ns = MANAGER_SCHED_BACKOFF_MIN_NS;
	s->next_ns = now + s->backoff_ns;
	s->backoff_ns *= 2;
	if (s->backoff_ns > MANAGER_SCHED_BACKOFF_MAX_NS)
		s->backoff_ns = MANAGER_SCHED_BACKOFF_MAX_NS;
}

/* Gives the tasks of the request in flight the reason why. */
static bool sched_report(struct manager *m, const char *why)
{
	return manager_propose_all(m, scheduling_fail(&m->store, m->sched.task_ids, why));
}

/* Sends the round's request to the plugin (steals round->request). */
static bool sched_send(struct manager *m, struct scheduling_round *round, int64_t now)
{
	struct manager_sched *s = &m->sched;
	const char *plugin = scheduler_name(m);
	json_decref(s->task_ids);
	s->task_ids = json_incref(round->task_ids);
	if (!plugin) {
		sched_backoff(m, now);
		return sched_report(m, "no scheduler plugin loaded");
	}
	snprintf(s->plugin, sizeof(s->plugin), "%s", plugin);
	s->in_flight = true;
	s->overdue = false;
	s->seq++;
	s->leader_epoch = m->leader_epoch;
	s->deadline_ns = now + MANAGER_SCHED_DEADLINE_NS;
	json_t *request = round->request;
	round->request = NULL;
	if (s->caller)
		caller_submit(s->caller, s->seq, plugin, request, MANAGER_SCHED_CALL_TIMEOUT_MS);
	else
		m->env.schedule(m->env.ctx, s->seq, plugin, request,
				MANAGER_SCHED_CALL_TIMEOUT_MS);
	return false;
}

bool manager_run_scheduler(struct manager *m, int64_t now)
{
	struct manager_sched *s = &m->sched;
	bool proposed = false;
	if (s->in_flight && !s->overdue && now >= s->deadline_ns) {
		char why[256];
		snprintf(why, sizeof(why), "scheduler %s did not answer in %lld s", s->plugin,
			 MANAGER_SCHED_DEADLINE_NS / 1000000000LL);
		log_msg(LOG_WARN, "manager", "%s", why);
		s->overdue = true;
		proposed = sched_report(m, why);
	}
	if (!m->dirty && now < s->retry_ns)
		return proposed;
	s->retry_ns = now + MANAGER_SCHED_RETRY_NS;
	char now_text[40];
	manager_now_text(m, now_text, sizeof(now_text));
	struct scheduling_round round;
	scheduling_prepare(&m->store, now_text, !s->in_flight && now >= s->next_ns, &round);
	proposed |= manager_propose_all(m, json_incref(round.commands));
	if (round.request)
		proposed |= sched_send(m, &round, now);
	scheduling_round_fini(&round);
	return proposed;
}

void manager_scheduler_replied(struct manager *m, const json_t *body)
{
	struct manager_sched *s = &m->sched;
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(body, "seq"));
	if (!s->in_flight || seq != s->seq)
		return; /* not the request in flight */
	s->in_flight = false;
	int64_t now = manager_mono_ns(m);
	bool late = s->overdue;
	if (late)
		sched_backoff(m, now);
	if (!m->raft || !m->leader || s->leader_epoch != m->leader_epoch)
		return; /* asked by an earlier leadership */
	json_t *reply = json_object_get(body, "reply");
	const char *err = json_string_value(json_object_get(body, "error"));
	const char *reply_err = json_string_value(json_object_get(reply, "error"));
	if (!reply || reply_err) {
		char why[700];
		snprintf(why, sizeof(why), "scheduler %s: %s", s->plugin,
			 reply_err ? reply_err : str_or(err, "no reply"));
		if (!late) {
			sched_backoff(m, now);
			sched_report(m, why);
		}
		return;
	}
	if (!late)
		s->backoff_ns = 0;
	char now_text[40];
	manager_now_text(m, now_text, sizeof(now_text));
	manager_propose_all(m, scheduling_accept(&m->store, s->task_ids, reply, now_text));
}
