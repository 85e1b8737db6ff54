/*
 * process.h: internal interface of the `process` runtime plugin (not
 * installed). The plugin runs programs directly on the node, each under an
 * orchd-shim monitor (shim.c), keeps per-task state on disk
 * (process_store.h) and watches tasks from one thread (process_watch.c);
 * process_ops.c answers the core's requests and process.c holds the plugin
 * entry, init and fini.
 *
 * Threads and locking: request handlers (several nng worker threads) and
 * the watcher thread share struct proc_runtime; `lock` guards the task list
 * and every task's fields. Only the watcher moves a task into PROC_ENDED,
 * and only handlers free tasks (remove, of ended tasks only), so the
 * watcher may hold task pointers of unended tasks across its poll().
 */
#ifndef PROCESS_H
#define PROCESS_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "orch_sdk.h"
#include "process_store.h"

#define PROC_ID_MAX 128
#define PROC_DEFAULT_GRACE_MS 10000
#define PROC_DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum proc_phase {
	PROC_PREPARING, /* accepted; the watcher resolves and spawns it */
	PROC_STARTING,  /* shim spawned; waiting for its report on sync_fd */
	PROC_RUNNING,   /* shim reported; watched through pidfd */
	PROC_ENDED,     /* `end` says how */
};

struct proc_task {
	struct proc_task *next;
	char id[PROC_ID_MAX + 1];
	char dir[PATH_MAX];
	enum proc_phase phase;
	json_t *spec;  /* the RTASK while PREPARING, else NULL */
	int sync_fd;   /* STARTING: read end of the shim's report pipe */
	int pidfd;     /* RUNNING: pidfd of the shim */
	struct proc_pid_record shim;
	struct proc_pid_record task;
	int64_t grace_ms; /* the RTASK's stop_grace_ms: stop's default */
	bool stop_requested;
	int64_t kill_at_ms; /* monotonic ms of the pending SIGKILL, 0: none */
	struct proc_exit end;
};

struct proc_runtime {
	const struct orch_host *host; /* valid until fini */
	char name[64];
	char tasks_dir[PATH_MAX];
	char shim_path[PATH_MAX];
	char unavailable[PATH_MAX + 256]; /* non-empty: why tasks cannot be started */
	pthread_mutex_t lock;
	struct proc_task *tasks;
	int wake_fd; /* eventfd: wakes the watcher */
	bool stopping;
	bool watcher_running;
	pthread_t watcher;
	struct orch_sdk_events *events;
	struct orch_sdk_server *server;
};

/* process_watch.c */
int proc_watch_start(struct proc_runtime *rt, char *err, size_t errlen);
void proc_watch_stop(struct proc_runtime *rt);
void proc_watch_wake(struct proc_runtime *rt);

/* process_task.c */
/* Requests a stop (lock held): SIGTERM now, SIGKILL after grace_ms.
 * Returns 0 or -errno when the stop marker could not be written. */
int proc_task_stop(struct proc_runtime *rt, struct proc_task *task,
		   int64_t grace_ms);
/* Reads the task directories of a previous run (init, before the watcher
 * starts): running tasks are re-adopted, ended ones keep their end. */
int proc_tasks_adopt(struct proc_runtime *rt, char *err, size_t errlen);
/* The task's STATUS object (lock held). */
json_t *proc_task_status(const struct proc_task *task);
/* Sends sig to the task's process group if its leader is still the
 * recorded process. Returns 0, -ESRCH when it is gone, or -errno. */
int proc_task_signal(struct proc_task *task, int sig);
/* Moves the task to PROC_ENDED; records `end` in its exit file unless
 * `recorded` (the shim wrote it). Returns 0 or -errno of that write. */
int proc_task_end(struct proc_task *task, const struct proc_exit *end,
		  bool recorded);
/* A new PREPARING task with its directory path set; NULL when out of
 * memory. */
struct proc_task *proc_task_new(const struct proc_runtime *rt, const char *id);
void proc_task_free(struct proc_task *task);
/* Task ids name directories: [A-Za-z0-9_.-]{1,128}, not "." or "..". */
bool proc_task_id_valid(const char *id);
int64_t proc_now_ms(void);
/* Logs through the host (orch_logf). */
#define proc_log(rt, level, ...) orch_logf((rt)->host, level, __VA_ARGS__)

/* process_ops.c */
json_t *proc_handle_request(void *ctx, const char *op, json_t *request);

#endif
