/*
 * orch_protocol.h: the message protocol between orchd's core and its
 * plugins, version 1. This file is the one place where the schema lives.
 *
 * Transport: nng. The core is a REQ client of each plugin's request_url (the
 * plugin serves REP); a plugin PUSHes events to the host's event_url. Every
 * message is one JSON object (UTF-8, no trailing NUL) with at least
 *     "v": 1                 protocol version
 *     "op": "<operation>"
 * A reply echoes nothing; it is either the operation's result object or
 *     {"v": 1, "error": "<what went wrong, for a human>"}
 * Requests are batched: one scheduler request places a whole batch of tasks
 * against one snapshot of the nodes; one runtime request carries many task
 * operations. Never one round trip per task.
 *
 * Units: CPU in nano-CPUs (1e9 = one CPU), memory in bytes, durations in
 * milliseconds, timestamps in nanoseconds since the Unix epoch. Unknown
 * fields are ignored (the protocol grows by adding fields).
 *
 * ---------------------------------------------------------------- common
 * {"v":1,"op":"info"}
 *   -> {"v":1,"name":"docker","kind":"runtime","available":true,
 *       "error":"<why not available, when not>",
 *       "resources":{"nano_cpus":N,"memory_bytes":N}}   (runtimes only)
 *
 * ------------------------------------------------------------- scheduler
 * {"v":1,"op":"schedule","nodes":[NODE...],"tasks":[STASK...]}
 *   -> {"v":1,"placements":[{"task_id":"...","node_id":"..."}...],
 *       "unplaced":[{"task_id":"...","error":"no suitable node (...)"}...]}
 * Every task of the request appears exactly once in placements or unplaced.
 * The scheduler counts its own placements of this batch (reserved
 * resources, task counts) as it goes.
 * NODE = {"id","hostname","role":"manager|worker","state":"ready|down",
 *         "availability":"active|pause|drain","labels":{"k":"v"},
 *         "runtimes":["docker","process"],
 *         "resources":{"nano_cpus","memory_bytes"},      capacity
 *         "reserved":{"nano_cpus","memory_bytes"},       already reserved
 *         "tasks_total":N, "tasks_by_service":{"<service_id>":N}}
 * STASK = {"id","service_id","runtime":"docker",
 *          "constraints":["node.labels.k==v","node.role!=manager",...],
 *          "reservations":{"nano_cpus","memory_bytes"}}
 * Constraint keys: node.id, node.hostname, node.role, node.labels.<k>;
 * operators == and !=.
 *
 * --------------------------------------------------------------- runtime
 * {"v":1,"op":"start","tasks":[RTASK...]}
 *   -> {"v":1,"accepted":["<task_id>"...],
 *       "errors":[{"task_id","error"}...]}
 *   Asynchronous: the reply only says which tasks were taken on; progress
 *   comes as task_status events (preparing -> starting -> running -> ...).
 * {"v":1,"op":"stop","tasks":[{"task_id","grace_ms"}...]}
 *   -> {"v":1,"accepted":[...],"errors":[...]}
 *   Asynchronous: SIGTERM (or the engine's stop), SIGKILL after grace_ms; the
 *   end comes as a task_status event (complete/failed/shutdown).
 * {"v":1,"op":"remove","tasks":[{"task_id"}...]}
 *   -> {"v":1,"removed":[...],"errors":[...]}       synchronous; frees all
 * {"v":1,"op":"list"}
 *   -> {"v":1,"tasks":[STATUS...]}   every task the runtime holds, for
 *      adoption after an orchd restart (running ones and ended ones whose
 *      exit code was not collected yet)
 * {"v":1,"op":"logs","task_id":"...","tail":N}
 *   -> {"v":1,"data":"<stdout and stderr, last N lines; all when N<=0>"}
 * RTASK = {"id","service_id","service_name","slot":N (0 for global),
 *          "node_id","image","command":["..."],"args":["..."],
 *          "env":["K=V"],"mounts":[{"source","target","readonly":bool}],
 *          "limits":{"nano_cpus","memory_bytes"},
 *          "reservations":{"nano_cpus","memory_bytes"},
 *          "stop_grace_ms":N,"labels":{"k":"v"}}
 *   For the process runtime "image" names the program (absolute path or
 *   looked up in PATH) and command/args are its arguments.
 *
 * ---------------------------------------------------------------- events
 * Pushed by a plugin to event_url:
 * {"v":1,"op":"task_status","plugin":"<name>","statuses":[STATUS...]}
 * STATUS = {"task_id","state":"preparing|starting|running|complete|failed|
 *           shutdown|rejected","exit_code":N,"error":"...",
 *           "runtime_id":"<container id or pid>","timestamp_ns":N}
 * Statuses are batched: a plugin may send several in one event.
 */
#ifndef ORCH_PROTOCOL_H
#define ORCH_PROTOCOL_H

#define ORCH_PROTOCOL_VERSION 1

/* Operation names. */
#define ORCH_OP_INFO "info"
#define ORCH_OP_SCHEDULE "schedule"
#define ORCH_OP_START "start"
#define ORCH_OP_STOP "stop"
#define ORCH_OP_REMOVE "remove"
#define ORCH_OP_LIST "list"
#define ORCH_OP_LOGS "logs"
#define ORCH_OP_TASK_STATUS "task_status"

#endif
