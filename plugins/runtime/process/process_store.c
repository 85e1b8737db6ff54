/*
 * process_store.c: reads and writes the per-task files described in
 * process_store.h, and probes /proc for a process's start time. Used by
 * both the plugin and orchd-shim, so it depends on libc only. No state.
 */
#include "process_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int store_path(const char *dir, const char *name, const char *suffix,
		      char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s%s", dir, name, suffix);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

static int store_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int proc_store_write(const char *dir, const char *name, const char *data,
		     size_t len)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	int rc = store_path(dir, name, ".tmp", tmp, sizeof(tmp));
	if (rc == 0)
		rc = store_path(dir, name, "", final, sizeof(final));
	if (rc != 0)
		return rc;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = store_write_all(fd, data, len);
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, final) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

int proc_store_read(const char *dir, const char *name, char *buf,
		    size_t buflen)
{
	char path[PATH_MAX];
	int rc = store_path(dir, name, "", path, sizeof(path));
	if (rc != 0)
		return rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t used = 0;
	while (used + 1 < buflen) {
		ssize_t n = read(fd, buf + used, buflen - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	return rc != 0 ? rc : (int)used;
}

int proc_store_write_pid(const char *dir, const char *name,
			 const struct proc_pid_record *record)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%d %llu\n", (int)record->pid,
			 record->start_time);
	return proc_store_write(dir, name, line, (size_t)n);
}

int proc_store_read_pid(const char *dir, const char *name,
			struct proc_pid_record *record)
{
	char line[64];
	int rc = proc_store_read(dir, name, line, sizeof(line));
	if (rc < 0)
		return rc;
	int pid;
	unsigned long long start;
	if (sscanf(line, "%d %llu", &pid, &start) != 2 || pid <= 0)
		return -EINVAL;
	record->pid = pid;
	record->start_time = start;
	return 0;
}

int proc_store_write_exit(const char *dir, const struct proc_exit *exit_rec)
{
	char line[PROC_REASON_MAX + 32];
	int n;
	switch (exit_rec->kind) {
	case PROC_EXIT_CODE:
		n = snprintf(line, sizeof(line), "exited %d\n", exit_rec->value);
		break;
	case PROC_EXIT_SIGNAL:
		n = snprintf(line, sizeof(line), "signaled %d\n",
			     exit_rec->value);
		break;
	case PROC_EXIT_REJECTED:
		n = snprintf(line, sizeof(line), "rejected %s\n",
			     exit_rec->reason);
		break;
	case PROC_EXIT_FAILED:
		n = snprintf(line, sizeof(line), "failed %s\n",
			     exit_rec->reason);
		break;
	default:
		return -EINVAL;
	}
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	return proc_store_write(dir, PROC_FILE_EXIT, line, (size_t)n);
}

static int exit_parse_reason(const char *text, struct proc_exit *exit_rec)
{
	size_t len = strcspn(text, "\n");
	if (len >= sizeof(exit_rec->reason))
		len = sizeof(exit_rec->reason) - 1;
	memcpy(exit_rec->reason, text, len);
	exit_rec->reason[len] = '\0';
	exit_rec->value = -1;
	return 0;
}

int proc_store_read_exit(const char *dir, struct proc_exit *exit_rec)
{
	char line[PROC_REASON_MAX + 32];
	int rc = proc_store_read(dir, PROC_FILE_EXIT, line, sizeof(line));
	if (rc < 0)
		return rc;
	memset(exit_rec, 0, sizeof(*exit_rec));
	if (sscanf(line, "exited %d", &exit_rec->value) == 1) {
		exit_rec->kind = PROC_EXIT_CODE;
		return 0;
	}
	if (sscanf(line, "signaled %d", &exit_rec->value) == 1) {
		exit_rec->kind = PROC_EXIT_SIGNAL;
		return 0;
	}
	if (strncmp(line, "rejected ", 9) == 0) {
		exit_rec->kind = PROC_EXIT_REJECTED;
		return exit_parse_reason(line + 9, exit_rec);
	}
	if (strncmp(line, "failed ", 7) == 0) {
		exit_rec->kind = PROC_EXIT_FAILED;
		return exit_parse_reason(line + 7, exit_rec);
	}
	return -EINVAL;
}

/* /proc/<pid>/stat is "pid (comm) state ppid ..."; comm may hold spaces
 * and parentheses, so fields are counted from the last ')'. The state is
 * field 3 and the start time field 22. */
int proc_pid_probe(pid_t pid, unsigned long long *start_time, char *state)
{
	char dir[32], buf[1024];
	snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	int rc = proc_store_read(dir, "stat", buf, sizeof(buf));
	if (rc == -ENOENT)
		return -ESRCH;
	if (rc < 0)
		return rc;
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -EINVAL;
	p += 2;
	*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -EINVAL;
		p++;
	}
	char *end;
	errno = 0;
	*start_time = strtoull(p, &end, 10);
	if (errno != 0 || end == p)
		return -EINVAL;
	return 0;
}

bool proc_pid_alive(const struct proc_pid_record *record)
{
	unsigned long long start;
	char state;
	if (proc_pid_probe(record->pid, &start, &state) != 0)
		return false;
	return start == record->start_time && state != 'Z' && state != 'X';
}
