/*
 * process_store.h: the on-disk state of one task of the `process` runtime,
 * shared by the plugin (process.so) and its per-task monitor (orchd-shim).
 *
 * Every task owns a directory <data_dir>/tasks/<task_id>/ holding:
 *   spec.json  the RTASK as the core sent it (written by the plugin)
 *   shim.pid   "<pid> <start_time>" of the task's orchd-shim (by the shim)
 *   task.pid   "<pid> <start_time>" of the task itself; its pid is also its
 *              process group id (by the shim)
 *   log        the task's stdout and stderr, appended (by the shim)
 *   stop       "<kill_at_ms>": a stop was requested; SIGKILL is due at that
 *              CLOCK_MONOTONIC time (by the plugin)
 *   exit       how the task ended, one line (by the shim, or by the plugin
 *              for a task it rejected): "exited N", "signaled N",
 *              "rejected <reason>" or "failed <reason>"
 * start_time is field 22 of /proc/<pid>/stat: with the pid it names one
 * process for good, so a recycled pid is never mistaken for the task.
 * Files are replaced atomically (write a .tmp, then rename). This module
 * holds no state of its own and allocates nothing.
 */
#ifndef PROCESS_STORE_H
#define PROCESS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROC_FILE_SPEC "spec.json"
#define PROC_FILE_SHIM_PID "shim.pid"
#define PROC_FILE_TASK_PID "task.pid"
#define PROC_FILE_LOG "log"
#define PROC_FILE_STOP "stop"
#define PROC_FILE_EXIT "exit"

#define PROC_REASON_MAX 256

/* One process, named for good: pid plus its start time. */
struct proc_pid_record {
	pid_t pid;
	unsigned long long start_time;
};

enum proc_exit_kind {
	PROC_EXIT_CODE = 1,     /* exited normally with `value` */
	PROC_EXIT_SIGNAL = 2,   /* killed by signal `value` */
	PROC_EXIT_REJECTED = 3, /* never started: `reason` */
	PROC_EXIT_FAILED = 4,   /* could not be started or watched: `reason` */
};

struct proc_exit {
	enum proc_exit_kind kind;
	int value;
	char reason[PROC_REASON_MAX];
};

/* Writes data to dir/name atomically. Returns 0 or -errno. */
int proc_store_write(const char *dir, const char *name, const char *data,
		     size_t len);
/* Reads dir/name (at most buflen-1 bytes) into buf, NUL-terminated.
 * Returns the length or -errno. */
int proc_store_read(const char *dir, const char *name, char *buf,
		    size_t buflen);

int proc_store_write_pid(const char *dir, const char *name,
			 const struct proc_pid_record *record);
/* Returns 0, -ENOENT when the file is missing, -EINVAL when garbled. */
int proc_store_read_pid(const char *dir, const char *name,
			struct proc_pid_record *record);

int proc_store_write_exit(const char *dir, const struct proc_exit *exit_rec);
/* Returns 0, -ENOENT when the task has not ended, -EINVAL when garbled. */
int proc_store_read_exit(const char *dir, struct proc_exit *exit_rec);

/* Reads the start time and state letter of a live process from
 * /proc/<pid>/stat. Returns 0 or -errno (-ESRCH when gone). */
int proc_pid_probe(pid_t pid, unsigned long long *start_time, char *state);
/* True when the recorded process still runs (same start time, not a
 * zombie). */
bool proc_pid_alive(const struct proc_pid_record *record);

#endif
