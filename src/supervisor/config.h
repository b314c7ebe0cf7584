/* config.h: everything the supervisor reads from its environment, parsed
 * once into inert data (CONTRACT section 3). Unknown or malformed values
 * warn where the contract says so; fatal ones are reported as errors. */
#pragma once
#include "base/base.h"
#include "base/buf.h"

enum deployment_profile { PROFILE_PORTABLE, PROFILE_HARDENED };

/* Namespaces a cell may get (CELLOS_SUBPROCESS_UNSHARE). */
enum {
    NS_PID = 1u << 0,
    NS_IPC = 1u << 1,
    NS_NET = 1u << 2,
    NS_UTS = 1u << 3,
    NS_MNT = 1u << 4,
    NS_ALL = NS_PID | NS_IPC | NS_NET | NS_UTS | NS_MNT,
    NS_DEFAULT = NS_PID | NS_IPC | NS_MNT | NS_NET, /* "1" / "default" */
};
enum secret_broker { BROKER_ENV, BROKER_FILE };

struct sup_config {
    enum deployment_profile profile;
    enum secret_broker broker;
    char *jsonl_path;            /* CELLOS_JSONL_SINK_PATH / CELL_OS_JSONL_EVENTS */
    bool noop_sink;              /* CELL_OS_USE_NOOP_SINK=1 */
    char **argv0_allow_prefixes; /* CELLOS_RUN_ARGV0_ALLOW_PREFIXES, NULL-terminated or NULL */
    char *export_dir;            /* CELLOS_EXPORT_DIR */
    char *backend;               /* CELLOS_CELL_BACKEND: NULL/"stub" = host subprocess */
    unsigned namespaces;         /* NS_* from CELLOS_SUBPROCESS_UNSHARE (hardened: NS_ALL) */
    char *cgroup_parent;         /* CELLOS_CGROUP_PARENT (hardened default "cellos") */
    char *cgroup_memory_max;     /* CELLOS_CGROUP_MEMORY_MAX, parsed by the cgroup module */
    char *cgroup_cpu_max;        /* CELLOS_CGROUP_CPU_MAX */
    char *seccomp;               /* CELLOS_SECCOMP (hardened default "baseline") */
    char *nats_url;              /* CELLOS_NATS_URL: the primary sink, or NULL */
    char *nats_subject;          /* CELLOS_NATS_SUBJECT, default cellos.events.{cellId} */
    bool require_jetstream;      /* CELL_OS_REQUIRE_JETSTREAM=1 */
    bool per_flow_counters;      /* CELLOS_PER_FLOW_ENFORCEMENT_EVENTS=1 */
    bool per_flow_realtime;      /* CELLOS_PER_FLOW_REALTIME=1 */
    bool dns_proxy;              /* CELLOS_DNS_PROXY=1 */
    bool sni_proxy;              /* CELLOS_SNI_PROXY=1 */
    char *dns_upstream_override; /* CELLOS_DNS_PROXY_UPSTREAM_OVERRIDE: ip:port */
    /* A value that must stop the run (bad profile, unknown backend...). It is
     * reported after the sinks are open, so the failure is in the event log. */
    bool has_error;
    struct cell_err error;
};

typedef const char *(*getenv_fn)(const char *name);

/* Parses the variables through `get` (getenv in production, a table in
 * tests). Never fails as a whole: a value that must stop the run sets
 * cfg->has_error. Warnings go to *warnings (newline separated) or NULL. */
void sup_config_load(getenv_fn get, struct sup_config *cfg, char **warnings);
void sup_config_clear(struct sup_config *cfg);

/* CELLOS_SUBPROCESS_UNSHARE -> NS_* bits; unknown tokens are named in
 * *warnings. */
unsigned parse_unshare_list(const char *value, struct buf *warnings);
/* "pid", "ipc", ... for each bit set, in a fixed order; returns the count. */
size_t namespace_names(unsigned mask, const char **names, size_t cap);
