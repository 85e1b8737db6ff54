/*
 * updater.h: the rolling updater of the orchestrator. From one service, its
 * slots and the time, it decides which outdated tasks are replaced in this
 * pass (UpdateConfig: Parallelism, Delay, Monitor, FailureAction,
 * MaxFailureRatio, Order) and what the service's UpdateStatus becomes. Like
 * the orchestrator it is a pure function of the store and owns no state:
 * where an update stands is read back from the tasks (their Spec, CreatedAt,
 * Status, OrchRunningAt) and from UpdateStatus.
 */
#ifndef ORCHD_UPDATER_H
#define ORCHD_UPDATER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* One slot of the service as the orchestrator sees it before acting. */
struct updater_slot {
	json_t *tasks;          /* every task of the slot (borrowed) */
	const json_t *outdated; /* its live task when that runs an old spec,
				   no up-to-date task is live in the slot and
				   a replacement can be created now; else NULL */
	bool replace;           /* out: replace `outdated` in this pass */
};

struct updater_decision {
	json_t *status;    /* new UpdateStatus to write (new reference), or NULL */
	int64_t wakeup_ns; /* when to look again without a change, or INT64_MAX */
};

/* Decides the rolling update of one service for this pass: sets `replace`
 * on the slots whose task is replaced now and fills *out. now_text is
 * now_ns in RFC 3339 (StartedAt/CompletedAt). */
void updater_plan(const json_t *service, struct updater_slot *slots,
		  size_t n_slots, int64_t now_ns, const char *now_text,
		  struct updater_decision *out);

/* Whether a task runs the service's current Spec.TaskTemplate. */
bool updater_task_is_current(const json_t *service, const json_t *task);

/* Whether UpdateConfig.Order is "start-first". */
bool updater_start_first(const json_t *service);

/* Whether UpdateStatus.State is "updating". */
bool updater_in_progress(const json_t *service);

#endif
