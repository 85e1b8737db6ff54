/*
 * updater.c: the rolling updater (see updater.h). Owns no state.
 *
 * An update starts when a slot's live task runs an older spec than the
 * service's TaskTemplate (a new image, a ForceUpdate bump...) and no update
 * is under way: UpdateStatus becomes "updating" with StartedAt. Then, batch
 * after batch, Parallelism outdated slots (0: all) get a replacement; the
 * next batch waits until no replacement is in flight (created, not yet
 * running) and Delay has passed since the last one reached running. The
 * replacements of this update are the up-to-date tasks created since
 * StartedAt; one that ends (failed, rejected or complete) without having
 * run, or within Monitor of reaching running, is a failure. Above
 * MaxFailureRatio of the service's slots, FailureAction "pause" (and
 * "rollback", not implemented yet: it pauses too) stops the update with
 * State "paused"; "continue" carries on. When no outdated slot is left and
 * the last replacement has been running for Monitor, State is "completed".
 * A paused update stays paused until the next `service update` (store.c
 * clears UpdateStatus then).
 */
#include "updater.h"

#include <stdio.h>
#include <string.h>

#include "store.h"
#include "timefmt.h"

struct update_config {
	int64_t parallelism; /* 0: all at once */
	int64_t delay_ns;
	int64_t monitor_ns;
	double max_failure_ratio;
	const char *failure_action;
};

/* Where the current update stands, read from the slots' tasks. */
struct update_progress {
	int64_t started_ns;
	size_t outdated;        /* slots waiting for their replacement */
	size_t in_flight;       /* up-to-date live tasks not yet running */
	int64_t last_running_ns; /* latest replacement to reach running, or 0 */
	size_t failures;
	const json_t *first_failure;
};

/* Docker's defaults: one at a time, no delay, 5 s monitor, pause. */
static void update_config_of(const json_t *service, struct update_config *c)
{
	json_t *uc = json_object_get(json_object_get(service, "Spec"),
				     "UpdateConfig");
	json_t *parallelism = json_object_get(uc, "Parallelism");
	json_t *monitor = json_object_get(uc, "Monitor");
	const char *action = json_string_value(json_object_get(uc, "FailureAction"));
	c->parallelism = json_is_integer(parallelism)
				 ? json_integer_value(parallelism)
				 : 1;
	c->delay_ns = json_integer_value(json_object_get(uc, "Delay"));
	c->monitor_ns = json_is_integer(monitor) ? json_integer_value(monitor)
						 : 5000000000LL;
	c->max_failure_ratio =
		json_number_value(json_object_get(uc, "MaxFailureRatio"));
	c->failure_action = action ? action : "pause";
}

bool updater_task_is_current(const json_t *service, const json_t *task)
{
	json_t *template = json_object_get(json_object_get(service, "Spec"),
					   "TaskTemplate");
	return json_equal(json_object_get(task, "Spec"), template);
}

bool updater_start_first(const json_t *service)
{
	const char *order = json_string_value(json_object_get(
		json_object_get(json_object_get(service, "Spec"), "UpdateConfig"),
		"Order"));
	return order && strcmp(order, "start-first") == 0;
}

static const char *update_state(const json_t *service)
{
	return json_string_value(
		json_object_get(json_object_get(service, "UpdateStatus"), "State"));
}

bool updater_in_progress(const json_t *service)
{
	const char *state = update_state(service);
	return state && strcmp(state, "updating") == 0;
}

/* ------------------------------------------------------------- progress */

/* An RFC 3339 JSON string as ns, 0 when absent or unreadable. */
static int64_t time_value(const json_t *text)
{
	int64_t ns = 0;
	if (timefmt_parse_rfc3339(json_string_value(text), &ns) != 0)
		return 0;
	return ns;
}

static int64_t time_field(const json_t *obj, const char *key)
{
	return time_value(json_object_get(obj, key));
}

static int64_t add_saturated(int64_t a, int64_t b)
{
	return b > 0 && a > INT64_MAX - b ? INT64_MAX : a + b;
}

static bool task_live(const json_t *task)
{
	const char *desired = store_task_desired(task);
	return desired && strcmp(desired, "running") == 0 &&
	       !task_state_ended(store_task_state(task));
}

/* A replacement that ended by itself without running, or within Monitor
 * of reaching running. */
static bool replacement_failed(const json_t *task, int64_t monitor_ns)
{
	enum task_state st = store_task_state(task);
	if (st != TASK_COMPLETE && st != TASK_FAILED && st != TASK_REJECTED)
		return false;
	int64_t running_ns = time_field(task, "OrchRunningAt");
	if (running_ns == 0)
		return true;
	int64_t ended_ns = time_field(json_object_get(task, "Status"), "Timestamp");
	return ended_ns - running_ns < monitor_ns;
}

static void progress_count_task(struct update_progress *pr,
				const json_t *service, const json_t *task,
				const struct update_config *cfg)
{
	if (!updater_task_is_current(service, task))
		return;
	int live = task_live(task);
	if (live && store_task_state(task) < TASK_RUNNING)
		pr->in_flight++;
	if (time_field(task, "CreatedAt") < pr->started_ns)
		return;
	if (live && store_task_state(task) == TASK_RUNNING) {
		int64_t at = time_field(json_object_get(task, "Status"), "Timestamp");
		if (at > pr->last_running_ns)
			pr->last_running_ns = at;
	}
	if (replacement_failed(task, cfg->monitor_ns)) {
		if (!pr->first_failure)
			pr->first_failure = task;
		pr->failures++;
	}
}

static void progress_read(const json_t *service,
			  const struct updater_slot *slots, size_t n_slots,
			  const struct update_config *cfg,
			  struct update_progress *pr)
{
	for (size_t i = 0; i < n_slots; i++) {
		size_t k;
		json_t *task;
		if (slots[i].outdated)
			pr->outdated++;
		json_array_foreach(slots[i].tasks, k, task)
			progress_count_task(pr, service, task, cfg);
	}
}

/* ------------------------------------------------------------- statuses */

static json_t *status_new(const char *state, json_t *started_at,
			  const char *completed_at, const char *message)
{
	json_t *status = json_pack("{s:s,s:s}", "State", state, "Message", message);
	if (json_is_string(started_at))
		json_object_set(status, "StartedAt", started_at);
	if (completed_at)
		json_object_set_new(status, "CompletedAt", json_string(completed_at));
	return status;
}

static bool update_failed(const struct update_config *cfg,
			  const struct update_progress *pr, size_t n_slots)
{
	if (pr->failures == 0 || n_slots == 0 ||
	    strcmp(cfg->failure_action, "continue") == 0)
		return false;
	return (double)pr->failures / (double)n_slots > cfg->max_failure_ratio;
}

static json_t *status_paused(const struct update_config *cfg,
			     const struct update_progress *pr, json_t *started_at)
{
	const json_t *task = pr->first_failure;
	json_t *st = json_object_get(task, "Status");
	const char *why = json_string_value(json_object_get(st, "Err"));
	if (!why)
		why = json_string_value(json_object_get(st, "Message"));
	char message[512];
	snprintf(message, sizeof(message),
		 "update paused due to failure or early termination of task %s: %s%s",
		 json_string_value(json_object_get(task, "ID"))
			 ? json_string_value(json_object_get(task, "ID"))
			 : "(no id)",
		 why ? why : store_task_state(task) == TASK_COMPLETE ? "exited" : "failed",
		 strcmp(cfg->failure_action, "rollback") == 0
			 ? " (FailureAction rollback is not implemented: paused instead)"
			 : "");
	return status_new("paused", started_at, NULL, message);
}

/* ----------------------------------------------------------------- plan */

static void choose_batch(struct updater_slot *slots, size_t n_slots,
			 int64_t parallelism)
{
	int64_t chosen = 0;
	for (size_t i = 0; i < n_slots; i++) {
		if (!slots[i].outdated)
			continue;
		if (parallelism > 0 && chosen == parallelism)
			return;
		slots[i].replace = true;
		chosen++;
	}
}

void updater_plan(const json_t *service, struct updater_slot *slots,
		  size_t n_slots, int64_t now_ns, const char *now_text,
		  struct updater_decision *out)
{
	struct update_config cfg;
	struct update_progress pr = { 0 };
	const char *state = update_state(service);
	json_t *started_at = json_object_get(json_object_get(service, "UpdateStatus"),
					     "StartedAt");
	out->status = NULL;
	out->wakeup_ns = INT64_MAX;
	if (state && strcmp(state, "paused") == 0)
		return;
	update_config_of(service, &cfg);
	for (size_t i = 0; i < n_slots; i++)
		pr.outdated += slots[i].outdated != NULL;
	json_t *now_json = json_string(now_text);
	if (!updater_in_progress(service)) {
		if (pr.outdated == 0)
			goto done;
		started_at = now_json;
		out->status = status_new("updating", started_at, NULL,
					 "update in progress");
	}
	pr.started_ns = time_value(started_at);
	pr.outdated = 0;
	progress_read(service, slots, n_slots, &cfg, &pr);
	if (update_failed(&cfg, &pr, n_slots)) {
		json_decref(out->status);
		out->status = status_paused(&cfg, &pr, started_at);
		goto done;
	}
	if (pr.in_flight > 0)
		goto done;
	int64_t wait_for = pr.outdated == 0 ? cfg.monitor_ns : cfg.delay_ns;
	int64_t due = pr.last_running_ns == 0
			      ? 0
			      : add_saturated(pr.last_running_ns, wait_for);
	if (now_ns < due) {
		out->wakeup_ns = due;
		goto done;
	}
	if (pr.outdated == 0)
		out->status = status_new("completed", started_at, now_text,
					 "update completed");
	else
		choose_batch(slots, n_slots, cfg.parallelism);
done:
	json_decref(now_json);
}
