#include "run_events.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void run_result_init(struct run_result *r)
{
    memset(r, 0, sizeof(*r));
    r->exit_code = -1;
}

void run_result_clear(struct run_result *r)
{
    for (size_t i = 0; i < r->n_residue; i++)
        free(r->residue[i]);
    free(r->residue);
    r->residue = NULL;
    r->n_residue = 0;
}

void run_result_fail(struct run_result *r, int status, const char *reason, const char *message)
{
    if (r->failed)
        return;
    r->failed = true;
    r->fail_status = status;
    r->fail_reason = reason;
    snprintf(r->fail_message, sizeof(r->fail_message), "%s", message);
}

void run_result_exited(struct run_result *r, int code, int signo, uint64_t duration_ms)
{
    r->exited = true;
    r->exit_code = code;
    r->signo = signo;
    r->duration_ms = duration_ms;
}

void run_result_add_residue(struct run_result *r, const char *what)
{
    r->residue = xrealloc(r->residue, (r->n_residue + 2) * sizeof(*r->residue));
    r->residue[r->n_residue++] = xstrdup(what);
    r->residue[r->n_residue] = NULL;
}

static int workload_status(const struct run_result *r)
{
    if (r->failed)
        return r->fail_status;
    if (r->timed_out)
        return 124;
    if (!r->exited)
        return 0; /* a spec without run */
    return r->signo ? 128 + r->signo : r->exit_code;
}

int run_result_exit_status(const struct run_result *r, bool sink_failed)
{
    int status = workload_status(r);
    return status == 0 && sink_failed ? 125 : status;
}

static json_t *isolation_json(const struct isolation_info *iso)
{
    json_t *o = json_object();
    json_t *ns = json_array();
    for (size_t i = 0; iso && i < iso->n_namespaces; i++)
        json_array_append_new(ns, json_string(iso->namespaces[i]));
    json_object_set_new(o, "namespaces", ns);
    json_object_set_new(o, "cgroupPath", iso && iso->cgroup_path ? json_string(iso->cgroup_path)
                                                                : json_null());
    json_object_set_new(o, "seccomp", json_string(iso && iso->seccomp ? iso->seccomp : "off"));
    json_object_set_new(o, "netns", json_boolean(iso && iso->netns));
    return o;
}

void emit_started(struct event_bus *bus, const struct cell_spec *spec, const char *bytes,
                  size_t len, const struct isolation_info *iso)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[2 * sizeof(digest) + 1];
    crypto_hash_sha256(digest, (const unsigned char *)bytes, len);
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    json_t *d = json_object();
    json_object_set_new(d, "specDigest", json_sprintf("sha256:%s", hex));
    json_object_set_new(d, "backend", json_string("stub"));
    json_object_set_new(d, "isolation", isolation_json(iso));
    (void)spec;
    event_bus_emit(bus, EV_LIFECYCLE_STARTED, d);
}

static void emit_failed(struct event_bus *bus, const char *reason, const char *message,
                        uint64_t duration_ms)
{
    json_t *d = json_object();
    json_object_set_new(d, "reasonCode", json_string(reason));
    json_object_set_new(d, "message", json_string(message));
    json_object_set_new(d, "durationMs", json_integer((json_int_t)duration_ms));
    event_bus_emit(bus, EV_COMMAND_FAILED, d);
}

void emit_command_outcome(struct event_bus *bus, struct run_result *r, uint64_t timeout_ms)
{
    if (r->reported)
        return;
    r->reported = true;
    if (r->failed) {
        emit_failed(bus, r->fail_reason, r->fail_message, r->duration_ms);
    } else if (r->timed_out) {
        char msg[128];
        snprintf(msg, sizeof(msg), "run timeout of %llu ms expired; the cell was killed",
                 (unsigned long long)timeout_ms);
        emit_failed(bus, "run_timeout", msg, r->duration_ms);
    } else if (r->exited) {
        json_t *d = json_object();
        json_object_set_new(d, "exitCode", json_integer(r->signo ? 128 + r->signo : r->exit_code));
        json_object_set_new(d, "signal", r->signo ? json_integer(r->signo) : json_null());
        json_object_set_new(d, "durationMs", json_integer((json_int_t)r->duration_ms));
        json_object_set_new(d, "oomKilled", json_boolean(r->oom_killed));
        event_bus_emit(bus, EV_COMMAND_COMPLETED, d);
    }
}

void emit_destroyed(struct event_bus *bus, const struct run_result *r)
{
    bool ok = run_result_exit_status(r, bus->failed) == 0;
    json_t *d = json_object();
    json_object_set_new(d, "outcome", json_string(ok ? "succeeded" : "failed"));
    json_object_set_new(d, "terminalState", json_string(r->forced ? "forced" : "clean"));
    json_t *residue = json_array();
    for (size_t i = 0; i < r->n_residue; i++)
        json_array_append_new(residue, json_string(r->residue[i]));
    json_object_set_new(d, "residue", residue);
    if (r->failed)
        json_object_set_new(d, "reasonCode", json_string(r->fail_reason));
    if (bus->failed)
        json_object_set_new(d, "sinkError", json_string(bus->failure.msg));
    event_bus_emit(bus, EV_LIFECYCLE_DESTROYED, d);
}
