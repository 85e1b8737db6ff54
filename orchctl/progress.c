/*
 * progress.c: docker's "overall progress" display while a service
 * converges (after service create, scale and update, unless --detach).
 *
 * Every 200 ms it reads GET /services/{id} (mode and replica count) and
 * GET /tasks?filters={"service":{"<id>":true}}, picks the newest task of
 * each slot (replicated) or node (global), and draws:
 *
 *   overall progress: 2 out of 3 tasks
 *   1/3: running   [==================================================>]
 *   2/3: No such image: nginx:nope
 *   3/3: preparing [=================================>                ]
 *   verify: Service converged
 *
 * After `service update` only tasks whose Spec is the service's current
 * TaskTemplate count (docker's "up to date" tasks), tasks of the old spec
 * still running hold convergence back, and the service's UpdateStatus is
 * read: "paused" ends the wait with its message (exit 1); "completed"
 * ends it at once (as docker, even with tasks not all running); otherwise,
 * as docker, the tasks must stay converged for the UpdateConfig.Monitor
 * period ("verify: Waiting N seconds to verify that tasks are stable...").
 * An UpdateStatus counts only when its StartedAt differs from the one seen
 * before the update was posted (an older update's status says nothing
 * about this one). An update that leaves every task up to date converges
 * at once.
 *
 * On a terminal the block is redrawn in place; otherwise only lines that
 * changed are printed; --quiet draws nothing. It gives up after
 * PROGRESS_TIMEOUT_S seconds without any change.
 * State: the lines drawn last and the watch of one wait (owned by one
 * progress_wait_* call).
 */
#include "format.h"
#include "orchctl.h"
#include "parse.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_POLL_MS 200
#define PROGRESS_TIMEOUT_S 120
#define PROGRESS_MAX_BARS 20
#define PROGRESS_BAR_WIDTH 50
#define PROGRESS_STATE_WIDTH 9 /* strlen("allocated") */
#define PROGRESS_LINE_LEN 512
#define PROGRESS_NS_PER_S 1000000000LL
#define PROGRESS_DEFAULT_MONITOR_NS (5 * PROGRESS_NS_PER_S)

/* docker's numbering of task states on the way to "running". */
static const char *const progress_states[] = {
	"new",       "allocated", "pending",  "assigned", "accepted",
	"preparing", "ready",     "starting", "running"
};

struct progress_lines {
	char (*text)[PROGRESS_LINE_LEN];
	size_t count;
};

struct progress_round {
	struct progress_lines lines;
	bool converged; /* every task up and running, no stragglers */
	bool paused;    /* update mode: this update's status is "paused" */
	bool completed; /* update mode: this update's status is "completed" */
	char message[PROGRESS_LINE_LEN]; /* UpdateStatus.Message */
	int64_t monitor_ns; /* UpdateConfig.Monitor, or docker's 5 s */
};

/* What one wait watches. */
struct progress_watch {
	const char *service_id;
	bool update; /* count only tasks of the current TaskTemplate */
	bool quiet;  /* draw nothing */
	const char *prior_started; /* UpdateStatus.StartedAt before the update, or "" */
};

static int progress_state_step(const char *state)
{
	for (size_t i = 0;
	     i < sizeof(progress_states) / sizeof(progress_states[0]); i++) {
		if (strcmp(progress_states[i], state) == 0)
			return (int)i + 1;
	}
	return 0;
}

static int progress_add_line(struct progress_lines *lines, const char *text)
{
	char(*grown)[PROGRESS_LINE_LEN] =
		realloc(lines->text, (lines->count + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	lines->text = grown;
	snprintf(lines->text[lines->count], PROGRESS_LINE_LEN, "%s", text);
	lines->count++;
	return 0;
}

/* "running   [=====>   ]", an error, or a terminal state name. */
static void progress_task_status(json_t *task, char *buf, size_t len)
{
	const char *state = json_path_str(task, "Status.State");
	const char *err = json_path_str(task, "Status.Err");
	int step = progress_state_step(state);
	if (err[0] != '\0' && strcmp(state, "running") != 0) {
		snprintf(buf, len, "%.*s", (int)strcspn(err, "\r\n"), err);
		return;
	}
	if (step == 0) {
		snprintf(buf, len, "%s", state);
		return;
	}
	int filled = step * 100 / 9 / 2;
	char bar[PROGRESS_BAR_WIDTH + 1];
	memset(bar, '=', (size_t)filled);
	bar[filled] = '\0';
	snprintf(buf, len, "%-*s [%s>%*s]", PROGRESS_STATE_WIDTH, state, bar,
		 PROGRESS_BAR_WIDTH - filled, "");
}

static int64_t progress_task_created(json_t *task)
{
	int64_t seconds;
	if (parse_rfc3339(json_path_str(task, "CreatedAt"), &seconds, NULL, 0) != 0)
		return 0;
	return seconds;
}

/* True when a is a newer task than b (creation time, then version). */
static bool progress_newer(json_t *a, json_t *b)
{
	int64_t ca = progress_task_created(a), cb = progress_task_created(b);
	if (ca != cb)
		return ca > cb;
	return json_path_int(a, "Version.Index", 0) >
	       json_path_int(b, "Version.Index", 0);
}

static bool progress_desired_running(json_t *task)
{
	const char *desired = json_path_str(task, "DesiredState");
	return strcmp(desired, "running") == 0 ||
	       strcmp(desired, "ready") == 0 || desired[0] == '\0';
}

/* The newest task matching (slot, node): desired-running ones first. */
static json_t *progress_pick(json_t *tasks, json_int_t slot, const char *node)
{
	json_t *best = NULL;
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		if (slot > 0 ? json_path_int(t, "Slot", 0) != slot
			     : strcmp(json_path_str(t, "NodeID"), node) != 0)
			continue;
		if (best == NULL ||
		    (progress_desired_running(t) && !progress_desired_running(best)) ||
		    (progress_desired_running(t) == progress_desired_running(best) &&
		     progress_newer(t, best)))
			best = t;
	}
	return best;
}

/* Counts running tasks that are not among the chosen ones (being stopped). */
static size_t progress_stragglers(json_t *tasks, json_t *chosen)
{
	size_t i, count = 0;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		if (strcmp(json_path_str(t, "Status.State"), "running") != 0)
			continue;
		bool is_chosen = false;
		size_t k;
		json_t *c;
		json_array_foreach(chosen, k, c)
			is_chosen |= c == t;
		count += !is_chosen;
	}
	return count;
}

/* Node IDs of the tasks that should run (global mode), in first-seen order. */
static json_t *progress_global_nodes(json_t *tasks)
{
	json_t *nodes = json_array();
	size_t i, k;
	json_t *t, *n;
	json_array_foreach(tasks, i, t) {
		const char *node = json_path_str(t, "NodeID");
		bool seen = false;
		if (!progress_desired_running(t) || node[0] == '\0')
			continue;
		json_array_foreach(nodes, k, n)
			seen |= strcmp(json_string_value(n), node) == 0;
		if (!seen)
			json_array_append_new(nodes, json_string(node));
	}
	return nodes;
}

/* The tasks whose Spec is the service's current TaskTemplate. */
static json_t *progress_up_to_date(json_t *service, json_t *tasks)
{
	json_t *template = json_path(service, "Spec.TaskTemplate");
	json_t *fresh = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		if (fresh != NULL && json_equal(json_object_get(t, "Spec"), template))
			json_array_append(fresh, t);
	}
	return fresh;
}

/* Reads the service's UpdateStatus and UpdateConfig.Monitor into round. */
static void progress_read_status(json_t *service, const struct progress_watch *watch,
				 struct progress_round *round)
{
	json_t *status = json_object_get(service, "UpdateStatus");
	const char *state = json_path_str(status, "State");
	bool current = json_is_object(status) &&
		       strcmp(json_path_str(status, "StartedAt"),
			      watch->prior_started) != 0;
	round->paused = current && strcmp(state, "paused") == 0;
	round->completed = current && strcmp(state, "completed") == 0;
	snprintf(round->message, sizeof(round->message), "%s",
		 json_path_str(status, "Message"));
	round->monitor_ns = json_path_int(service, "Spec.UpdateConfig.Monitor", 0);
	if (round->monitor_ns <= 0)
		round->monitor_ns = PROGRESS_DEFAULT_MONITOR_NS;
}

/* Builds the lines for the current tasks; sets round->converged. In
 * update mode only up-to-date tasks fill the slots. */
static int progress_build(json_t *service, json_t *all_tasks,
			  const struct progress_watch *watch,
			  struct progress_round *round)
{
	bool global = json_path(service, "Spec.Mode.Global") != NULL;
	json_t *nodes = global ? progress_global_nodes(all_tasks) : NULL;
	json_t *tasks = watch->update ? progress_up_to_date(service, all_tasks)
				      : json_incref(all_tasks);
	size_t total = global ? json_array_size(nodes)
			      : (size_t)json_path_int(
					service, "Spec.Mode.Replicated.Replicas", 0);
	json_t *chosen = json_array();
	size_t running = 0;
	char line[PROGRESS_LINE_LEN], status[PROGRESS_LINE_LEN - 128], id[64];
	int rc = progress_add_line(&round->lines, "");
	for (size_t i = 0; rc == 0 && i < total; i++) {
		const char *node =
			global ? json_string_value(json_array_get(nodes, i)) : "";
		json_t *t = progress_pick(tasks,
					  global ? 0 : (json_int_t)(i + 1), node);
		if (t != NULL)
			json_array_append(chosen, t);
		if (t != NULL &&
		    strcmp(json_path_str(t, "Status.State"), "running") == 0 &&
		    progress_desired_running(t))
			running++;
		if (total > PROGRESS_MAX_BARS)
			continue;
		if (global)
			format_id(node, false, id, sizeof(id));
		else
			snprintf(id, sizeof(id), "%zu/%zu", i + 1, total);
		if (t != NULL)
			progress_task_status(t, status, sizeof(status));
		else
			snprintf(status, sizeof(status), " ");
		snprintf(line, sizeof(line), "%s: %s", id, status);
		rc = progress_add_line(&round->lines, line);
	}
	if (rc == 0) {
		snprintf(round->lines.text[0], PROGRESS_LINE_LEN,
			 "overall progress: %zu out of %zu tasks", running, total);
		round->converged = running == total && (total > 0 || !global) &&
				   progress_stragglers(all_tasks, chosen) == 0;
	}
	if (tasks == NULL)
		rc = -1;
	if (watch->update)
		progress_read_status(service, watch, round);
	json_decref(tasks);
	json_decref(chosen);
	json_decref(nodes);
	return rc;
}

/* One poll: fetch service and tasks, build lines. -1 after printing why. */
static int progress_poll(struct cli *cli, const struct progress_watch *watch,
			 struct progress_round *round)
{
	const char *service_id = watch->service_id;
	char *escaped = client_escape(service_id);
	char *filter = NULL, *filter_escaped = NULL, *tasks_path = NULL,
	     *service_path = NULL;
	json_t *service = NULL, *tasks = NULL;
	int rc = -1;
	if (escaped == NULL || asprintf(&service_path, "/services/%s", escaped) < 0 ||
	    asprintf(&filter, "{\"service\":{\"%s\":true}}", service_id) < 0 ||
	    (filter_escaped = client_escape(filter)) == NULL ||
	    asprintf(&tasks_path, "/tasks?filters=%s", filter_escaped) < 0) {
		fprintf(cli->err, "Error: out of memory\n");
	} else if (client_call_json(cli, "GET", service_path, NULL, &service,
				    NULL) == 0 &&
		   client_call_json(cli, "GET", tasks_path, NULL, &tasks, NULL) == 0) {
		rc = progress_build(service, tasks, watch, round);
		if (rc != 0)
			fprintf(cli->err, "Error: out of memory\n");
	}
	json_decref(service);
	json_decref(tasks);
	free(escaped);
	free(filter);
	free(filter_escaped);
	free(tasks_path);
	free(service_path);
	return rc;
}

/* Draws the round: in place on a terminal, else only changed lines. */
static void progress_draw(struct cli *cli, bool tty,
			  const struct progress_lines *prev,
			  const struct progress_lines *cur)
{
	if (cli->out == NULL)
		return;
	if (tty) {
		if (prev->count > 0)
			fprintf(cli->out, "\033[%zuA", prev->count);
		for (size_t i = 0; i < cur->count; i++)
			fprintf(cli->out, "\r\033[2K%s\n", cur->text[i]);
		for (size_t i = cur->count; i < prev->count; i++)
			fprintf(cli->out, "\r\033[2K\n");
		if (prev->count > cur->count)
			fprintf(cli->out, "\033[%zuA", prev->count - cur->count);
	} else {
		for (size_t i = 0; i < cur->count; i++) {
			if (i >= prev->count ||
			    strcmp(prev->text[i], cur->text[i]) != 0)
				fprintf(cli->out, "%s\n", cur->text[i]);
		}
	}
	fflush(cli->out);
}

static double progress_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True when both line sets are the same. */
static bool progress_same(const struct progress_lines *a,
			  const struct progress_lines *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++) {
		if (strcmp(a->text[i], b->text[i]) != 0)
			return false;
	}
	return true;
}

/* Update mode: what a round means once the tasks are up and running.
 * Returns 1 when the update is done, 0 to keep polling (adding docker's
 * verify line to the round), -1 out of memory. *converged_at is when the
 * tasks converged (0: not converged). */
static int progress_verify(struct progress_round *round, bool first, double now,
			   double *converged_at)
{
	char line[PROGRESS_LINE_LEN];
	if (round->completed)
		return 1; /* docker's rule: the orchestrator's word ends the wait */
	if (!round->converged) {
		bool failed = *converged_at > 0;
		*converged_at = 0;
		return failed ? progress_add_line(&round->lines,
						  "verify: Detected task failure")
			      : 0;
	}
	if (first)
		return 1;
	if (*converged_at == 0)
		*converged_at = now;
	double left = (double)round->monitor_ns / PROGRESS_NS_PER_S -
		      (now - *converged_at);
	if (left <= 0)
		return 1;
	int seconds = (int)left;
	if (seconds < left)
		seconds++; /* rounded up, as docker's count down */
	snprintf(line, sizeof(line),
		 "verify: Waiting %d seconds to verify that tasks are stable...",
		 seconds);
	return progress_add_line(&round->lines, line);
}

static int progress_run(struct cli *cli, const struct progress_watch *watch)
{
	bool tty = !watch->quiet && isatty(fileno(cli->out)) == 1;
	struct cli view = *cli;
	struct progress_lines prev = { 0 };
	double deadline = progress_clock() + PROGRESS_TIMEOUT_S, converged_at = 0;
	int rc = -1;
	if (watch->quiet)
		view.out = NULL;
	for (bool first = true;; first = false) {
		struct progress_round round = { 0 };
		if (progress_poll(cli, watch, &round) != 0) {
			free(round.lines.text);
			break;
		}
		double now = progress_clock();
		int done = watch->update ? progress_verify(&round, first, now,
							   &converged_at)
					 : round.converged;
		if (done < 0) {
			fprintf(cli->err, "Error: out of memory\n");
			free(round.lines.text);
			break;
		}
		progress_draw(&view, tty, &prev, &round.lines);
		if (!progress_same(&prev, &round.lines))
			deadline = now + PROGRESS_TIMEOUT_S;
		free(prev.text);
		prev = round.lines;
		if (round.paused) {
			fprintf(cli->err, "service update paused: %s\n",
				round.message);
			break;
		}
		if (done == 1) {
			if (!watch->quiet)
				fprintf(cli->out, "verify: Service converged\n");
			rc = 0;
			break;
		}
		if (now >= deadline) {
			fprintf(cli->err,
				"Error: service %s did not converge: nothing changed for %ds; "
				"see 'orchctl service ps %s'\n",
				watch->service_id, PROGRESS_TIMEOUT_S,
				watch->service_id);
			break;
		}
		struct timespec pause = { .tv_sec = 0,
					  .tv_nsec = PROGRESS_POLL_MS * 1000000L };
		nanosleep(&pause, NULL);
	}
	free(prev.text);
	return rc;
}

int progress_wait_converged(struct cli *cli, const char *service_id)
{
	struct progress_watch watch = { .service_id = service_id,
					.prior_started = "" };
	return progress_run(cli, &watch);
}

int progress_wait_updated(struct cli *cli, const char *service_id,
			  const char *prior_started, bool quiet)
{
	struct progress_watch watch = { .service_id = service_id,
					.update = true,
					.quiet = quiet,
					.prior_started = prior_started ? prior_started
								       : "" };
	return progress_run(cli, &watch);
}
