/* run_events.h: what happened to a run, and the events that say so. */
#pragma once
#include "base/base.h"
#include "event/event.h"
#include "spec/spec.h"

struct run_result {
    bool exited;              /* the workload ran and ended */
    int exit_code;            /* -1 when killed by a signal */
    int signo;                /* 0 when it exited */
    uint64_t duration_ms;
    bool oom_killed;
    bool timed_out;
    int stop_signal;          /* signal that asked the supervisor to stop, 0 if none */
    bool forced;              /* we had to kill: terminalState "forced" */
    bool failed;              /* the supervisor failed (setup, exec, ...) */
    int fail_status;          /* exit status for that failure */
    const char *fail_reason;  /* contract reason code */
    char fail_message[512];
    bool reported;            /* command.v1.completed/failed emitted */
    char **residue;           /* what teardown could not remove, NULL-terminated */
    size_t n_residue;
};

void run_result_init(struct run_result *r);
void run_result_clear(struct run_result *r);
/* The first failure wins: later ones are consequences. */
void run_result_fail(struct run_result *r, int status, const char *reason, const char *message);
void run_result_exited(struct run_result *r, int code, int signo, uint64_t duration_ms);
void run_result_add_residue(struct run_result *r, const char *what);
/* CONTRACT section 6. A failed sink turns an otherwise successful run into 125. */
int run_result_exit_status(const struct run_result *r, bool sink_failed);

/* Isolation facts for the started event; NULL fields are omitted. */
struct isolation_info {
    const char *const *namespaces;
    size_t n_namespaces;
    const char *cgroup_path;
    const char *seccomp;
    bool netns;
};

void emit_started(struct event_bus *bus, const struct cell_spec *spec, const char *bytes,
                  size_t len, const struct isolation_info *iso);
void emit_command_outcome(struct event_bus *bus, struct run_result *r, uint64_t timeout_ms);
void emit_destroyed(struct event_bus *bus, const struct run_result *r);
