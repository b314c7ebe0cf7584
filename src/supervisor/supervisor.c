#include "supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sodium.h>
#include <string.h>
#include <sys/prctl.h>

#include "backend/process.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "config.h"
#include "isolation.h"
#include "network.h"
#include "cell_dns.h"
#include "cell_net.h"
#include "cell_flowlog.h"
#include "cell_l7.h"
#include "event/event.h"
#include "event/sign.h"
#include "loop/loop.h"
#include "net/netprep.h"
#include "run_events.h"
#include "secrets.h"
#include "spec/spec.h"

#define WORKLOAD_PATH "/usr/bin:/bin:/usr/local/bin"
#define DEFAULT_GRACE_SECONDS 5

struct cell_run {
    struct cell_spec *spec;
    const char *spec_bytes;
    size_t spec_len;
    struct sup_config cfg;
    struct event_bus bus;
    struct secret_set secrets;
    struct cell_isolation iso;
    bool iso_ready;
    struct cell_network net;
    struct cell_dns dns;
    struct cell_l7 l7;        /* CELLOS_SNI_PROXY */
    struct cell_flowlog flowlog; /* CELLOS_PER_FLOW_REALTIME */
    struct netprep prep;      /* the helper preparing the cell's netns */
    int status_fd;            /* read end: the pid-ns init reports the wait status */
    struct loop *loop;
    struct spawned child;
    uint64_t start_ms;
    struct loop_timer *timeout_timer;
    struct loop_timer *grace_timer;
    struct run_result result;
};

/* ---- steps before the cell exists ---- */

static int check_argv0_policy(struct cell_run *run)
{
    char **prefixes = run->cfg.argv0_allow_prefixes;
    if (!prefixes || !run->spec->run.present)
        return 0;
    const char *argv0 = run->spec->run.argv[0];
    for (char **p = prefixes; *p; p++)
        if (str_has_prefix(argv0, *p))
            return 0;
    log_error("spec.run.argv[0]: %s is not allowed here: it must start with one of the "
              "prefixes in CELLOS_RUN_ARGV0_ALLOW_PREFIXES", argv0);
    return -EPERM;
}

/* Fail closed: with signing requested and a bad key or kid, nothing is
 * emitted and nothing runs (an unsigned event would be a lie). */
static int setup_signing(struct cell_run *run)
{
    struct cell_err err = { 0 };
    if (signer_from_env(&run->bus.signer, &err) < 0) {
        log_error("event signing: %s", err.msg);
        return -EINVAL;
    }
    return 0;
}

/* "{cellId}" and "{tenantId}" in CELLOS_NATS_SUBJECT. */
static char *nats_subject(const struct cell_run *run)
{
    struct buf out = BUF_INIT;
    const char *tenant = run->spec->tenant_id ? run->spec->tenant_id : "default";
    for (const char *p = run->cfg.nats_subject; *p;) {
        if (str_has_prefix(p, "{cellId}")) {
            buf_puts(&out, run->spec->id);
            p += strlen("{cellId}");
        } else if (str_has_prefix(p, "{tenantId}")) {
            buf_puts(&out, tenant);
            p += strlen("{tenantId}");
        } else {
            buf_putc(&out, *p++);
        }
    }
    return buf_steal(&out);
}

/* The primary sink. Unreachable: a warning and the JSONL mirror only, or,
 * with CELL_OS_REQUIRE_JETSTREAM=1, a failure before anything runs. Once
 * connected, an outage during the run is buffered (sink_nats.c). */
static int open_nats_sink(struct cell_run *run)
{
    if (!run->cfg.nats_url || run->cfg.noop_sink)
        return 0;
    _cleanup_free_ char *subject = nats_subject(run);
    struct nats_sink_config nc = { .url = run->cfg.nats_url, .subject = subject,
                                   .require = run->cfg.require_jetstream };
    struct event_sink *sink;
    struct cell_err err = { 0 };
    if (sink_nats_open(&nc, &sink, &err) < 0) {
        if (run->cfg.require_jetstream) {
            log_error("%s; CELL_OS_REQUIRE_JETSTREAM=1: not running the cell", err.msg);
            return -ECONNREFUSED;
        }
        log_warn("%s; events go to the JSONL mirror only", err.msg);
        return 0;
    }
    event_bus_add_sink(&run->bus, sink);
    return 0;
}

static int open_sinks(struct cell_run *run)
{
    int r = open_nats_sink(run);
    if (r < 0)
        return r;
    if (run->cfg.jsonl_path) {
        struct event_sink *sink;
        struct cell_err err;
        if (sink_jsonl_open(run->cfg.jsonl_path, &sink, &err) < 0) {
            log_error("%s", err.msg);
            return -err.errnum;
        }
        event_bus_add_sink(&run->bus, sink);
    }
    return 0;
}

static const char *env_getter(const char *name) { return getenv(name); }

/* ---- the workload ---- */

/* The workload's environment: ordinary strings first (their count goes to
 * *n_plain), then the secrets, whose `KEY=value` strings live in sodium
 * memory so free_workload_env can wipe them. */
static char **build_workload_env(struct cell_run *run, size_t *n_plain)
{
    char **env = xcalloc(4 + run->secrets.n + 1, sizeof(*env));
    size_t i = 0;
    env[i++] = xstrdup("PATH=" WORKLOAD_PATH);
    env[i++] = xasprintf("CELLOS_CELL_ID=%s", run->spec->id);
    env[i++] = xasprintf("CELLOS_RUN_ID=%s", run->bus.ctx.run_id);
    if (run->iso.secrets_dir)
        env[i++] = xasprintf("CELLOS_SECRETS_DIR=%s", run->iso.secrets_dir);
    *n_plain = i;
    if (run->spec->run.secret_delivery == SECRET_DELIVERY_ENV) {
        for (size_t s = 0; s < run->secrets.n; s++) {
            const struct secret *sec = &run->secrets.items[s];
            size_t len = strlen(sec->env_name) + 1 + sec->len + 1;
            char *kv = sodium_malloc(len);
            if (!kv)
                abort();
            snprintf(kv, len, "%s=%s", sec->env_name, sec->value);
            env[i++] = kv;
        }
    }
    return env;
}

static void free_workload_env(char **env, size_t n_plain)
{
    for (size_t i = 0; env[i]; i++) {
        if (i < n_plain)
            free(env[i]);
        else
            sodium_free(env[i]); /* secret values: wiped */
    }
    free(env);
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void report_dns_proxy_failure(struct cell_run *run, const char *why)
{
    if (run->cfg.profile == PROFILE_HARDENED)
        log_error("%s; hardened profile: not running the cell", why);
    else
        log_warn("%s; the cell runs with direct DNS blocked", why);
    json_t *d = json_pack("{s:n, s:n, s:s, s:s, s:s, s:s}", "queryName", "queryType", "decision",
                          "deny", "reasonCode", "upstream_failure", "message", why,
                          "transport", "udp");
    json_object_set_new(d, "upstreamResolverId", run->dns.first_resolver_id
                                                     ? json_string(run->dns.first_resolver_id)
                                                     : json_null());
    event_bus_emit(&run->bus, EV_DNS_QUERY, d);
}

/* ---- the cell's network: prepared by a helper process (net/netprep.h) ---- */

/* Who creates sockets inside the cell's netns, in the order the helper runs
 * them; each service takes back what its opener made (adopt_network). */
enum net_opener { OPENER_DNS, OPENER_FLOWLOG, OPENER_L7, OPENER__COUNT };

/* A service that is off keeps its place, so each result is at its index. */
static int open_nothing(void *ctx, int *fds, size_t max, struct cell_err *err) { return 0; }
#define NO_OPENER ((struct netprep_opener){ .name = "off", .open = open_nothing })

/* Started before the secrets, the cgroup and the mount plan, so the
 * helper's few milliseconds of netns, firewall and sockets overlap them. */
static int start_network(struct cell_run *run)
{
    if (!run->net.active)
        return 0;
    struct netprep_opener openers[OPENER__COUNT];
    openers[OPENER_DNS] = run->dns.enabled ? cell_dns_opener(&run->dns) : NO_OPENER;
    openers[OPENER_FLOWLOG] = run->flowlog.enabled ? cell_flowlog_opener(&run->flowlog)
                                                   : NO_OPENER;
    openers[OPENER_L7] = run->l7.enabled ? cell_l7_opener(&run->l7) : NO_OPENER;
    struct cell_net_parts parts = { &run->dns, &run->flowlog, &run->l7, &run->net };
    struct netprep_request req = { .ruleset = run->net.ruleset, .openers = openers,
                                   .n_openers = OPENER__COUNT,
                                   .default_route = cell_net_default_route(&parts) };
    struct cell_err err = { 0 };
    int r = netprep_start(&req, &run->prep, &err);
    if (r < 0) {
        log_error("%s", err.msg);
        run_result_fail(&run->result, 125, "isolation_failed", err.msg);
    }
    return r;
}

/* While the child waits: the helper's results. A firewall that could not be
 * applied stops the cell; a proxy that cannot listen is reported, not fatal
 * (the firewall still blocks direct DNS), except in the hardened profile,
 * which refuses what it cannot enforce, the DNS proxy included (CONTRACT
 * section 3). Every service adopts its descriptors either way, so teardown
 * closes them. */
static int adopt_network(void *ctx, pid_t pid, int pidfd, struct cell_err *err)
{
    struct cell_run *run = ctx;
    struct netprep_opened opened[OPENER__COUNT];
    int netns_fd = run->prep.netns_fd;
    int r = netprep_finish(&run->prep, opened, err);
    if (r < 0)
        return r;
    run->prep.netns_fd = -1;
    network_adopt(&run->net, netns_fd);
    struct cell_err dns_err = { 0 };
    bool dns_failed = run->dns.enabled &&
                      cell_dns_adopt(&run->dns, &opened[OPENER_DNS], netns_fd, &dns_err) < 0;
    if (dns_failed) {
        report_dns_proxy_failure(run, dns_err.msg);
        run->dns.enabled = false;
    }
    cell_flowlog_adopt(&run->flowlog, &opened[OPENER_FLOWLOG]); /* warns when it failed */
    struct cell_err l7_err = { 0 };
    if (run->l7.enabled && cell_l7_adopt(&run->l7, &opened[OPENER_L7], &l7_err) < 0) {
        /* The redirect stays: redirected connections are refused, not let out. */
        log_warn("the L7 proxy is off: %s", l7_err.msg);
        run->l7.enabled = false;
    }
    if (dns_failed && run->cfg.profile == PROFILE_HARDENED)
        return cell_err_set(err, dns_err.errnum ? dns_err.errnum : EIO, "isolation_failed",
                            "hardened profile: %s", dns_err.msg);
    return 0;
}

/* The child setns()es into the helper's netns instead of cloning one. */
static int join_prepared_netns(struct cell_run *run, struct child_plan *plan, uint64_t *flags,
                               struct cell_err *err)
{
    if (!run->net.active)
        return 0;
    int fd = netprep_netns_fd(&run->prep, err);
    if (fd < 0)
        return fd;
    plan->join_netns = true;
    plan->netns_fd = fd;
    *flags &= ~(uint64_t)CLONE_NEWNET;
    return 0;
}

static int spawn_workload(struct cell_run *run)
{
    const struct run_spec *rs = &run->spec->run;
    size_t n_plain = 0;
    char **env = build_workload_env(run, &n_plain);
    char **candidates = process_exec_candidates(rs->argv[0], WORKLOAD_PATH);
    struct child_plan plan = {
        .status_fd = -1,
        .argv = rs->argv,
        .envp = env,
        .exec_paths = (const char *const *)candidates,
        .cwd = rs->working_directory,
        .hostname = (run->iso.namespaces & NS_UTS) ? run->spec->id : NULL,
    };
    isolation_fill_plan(&run->iso, &plan);
    int status_pipe[2] = { -1, -1 };
    if (plan.pid_init && pipe2(status_pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
        plan.status_fd = status_pipe[1];
        run->status_fd = status_pipe[0];
    }
    struct spawn_opts opts = { .clone_flags = run->iso.clone_flags,
                               .cgroup_fd = run->iso.attach.clone_fd,
                               .after_clone = run->net.active ? adopt_network : NULL,
                               .after_clone_ctx = run };
    struct cell_err err = { 0 };
    int status = 125;
    int r = join_prepared_netns(run, &plan, &opts.clone_flags, &err);
    if (r == 0)
        r = process_spawn(&plan, &opts, &run->child, &status, &err);
    if (status_pipe[1] >= 0)
        close(status_pipe[1]);
    free_workload_env(env, n_plain);
    free_strv(candidates);
    if (r < 0) {
        log_error("%s", err.msg);
        run_result_fail(&run->result, status, err.reason, err.msg);
        return r;
    }
    struct cell_err dns_err = { 0 };
    if (cell_dns_start(&run->dns, run->loop, &run->bus, &dns_err) < 0)
        report_dns_proxy_failure(run, dns_err.msg);
    if (cell_flowlog_start(&run->flowlog, run->loop, &run->bus, &err) < 0)
        log_warn("realtime flow events are off: %s", err.msg);
    if (cell_l7_start(&run->l7, run->loop, &run->bus, run->l7.resolved, &err) < 0)
        log_warn("the L7 proxy is off: %s", err.msg);
    return 0;
}

/* ---- the loop: exit, timeout, signals ---- */

static void signal_cell(struct cell_run *run, int sig)
{
    if (run->child.pid > 0)
        kill(-run->child.pid, sig); /* its process group (it leads a session) */
}

/* SIGKILL everything: the pid-ns init takes its namespace along, the cgroup
 * catches what left the process group, the subreaper walk the rest. */
static void kill_cell(struct cell_run *run)
{
    signal_cell(run, SIGKILL);
    if (run->child.pid > 0)
        kill(run->child.pid, SIGKILL);
    if (run->iso_ready)
        isolation_kill(&run->iso);
    process_kill_descendants(run->child.pid);
}

/* With a pid namespace the workload is the init's child: its wait status
 * comes through the status pipe. */
static void read_reported_status(struct cell_run *run, int *code, int *signo)
{
    int32_t wstatus;
    if (run->status_fd < 0 || read(run->status_fd, &wstatus, sizeof(wstatus)) != sizeof(wstatus))
        return;
    if (WIFEXITED(wstatus)) {
        *code = WEXITSTATUS(wstatus);
        *signo = 0;
    } else if (WIFSIGNALED(wstatus)) {
        *code = -1;
        *signo = WTERMSIG(wstatus);
    }
}

static void on_workload_exit(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct cell_run *run = userdata;
    int code = -1, signo = SIGKILL;
    int r = process_reap(fd, &code, &signo);
    if (r == -EAGAIN)
        return;
    if (r < 0) /* cannot happen unless someone else reaped it: do not spin */
        log_warn("cannot read the workload's exit status: %s", strerror(-r));
    read_reported_status(run, &code, &signo);
    run->child.pid = 0;
    if (run->iso_ready && isolation_oom_killed(&run->iso)) {
        run->result.oom_killed = true;
        if (signo == 0 && code != 0) { /* the init saw its child die: still an OOM kill */
            code = -1;
            signo = SIGKILL;
        }
    }
    run_result_exited(&run->result, code, signo, now_mono_ms() - run->start_ms);
    loop_del_fd(loop, fd);
    loop_quit(loop, 0);
}

static void on_timeout(struct loop *loop, void *userdata)
{
    struct cell_run *run = userdata;
    run->timeout_timer = NULL;
    run->result.timed_out = true;
    run->result.forced = true;
    kill_cell(run);
}

static void on_grace_expired(struct loop *loop, void *userdata)
{
    struct cell_run *run = userdata;
    run->grace_timer = NULL;
    kill_cell(run);
}

static void on_signal(struct loop *loop, int signo, void *userdata)
{
    struct cell_run *run = userdata;
    if (signo == SIGCHLD) {
        process_reap_orphans(run->child.pid);
        return;
    }
    if (run->result.stop_signal)
        return; /* already stopping: the grace timer decides */
    run->result.stop_signal = signo;
    run->result.forced = true;
    const struct run_limits *lim = &run->spec->run.limits;
    uint32_t grace = lim->has_graceful_shutdown ? lim->graceful_shutdown_seconds
                                                : DEFAULT_GRACE_SECONDS;
    log_info("received %s: stopping the cell (SIGKILL in %us)", strsignal(signo), grace);
    signal_cell(run, SIGTERM);
    run->grace_timer = loop_add_timer(loop, (uint64_t)grace * 1000, on_grace_expired, run);
}

static int run_loop(struct cell_run *run)
{
    int r = loop_add_fd(run->loop, run->child.pidfd, EPOLLIN, on_workload_exit, run);
    if (r < 0)
        return r;
    run->timeout_timer = loop_add_timer(run->loop, spec_effective_timeout_ms(run->spec),
                                        on_timeout, run);
    r = loop_run(run->loop);
    loop_cancel_timer(run->loop, run->timeout_timer);
    loop_cancel_timer(run->loop, run->grace_timer);
    return r;
}

/* ---- lifecycle ---- */

static int setup_signals(struct cell_run *run)
{
    sigset_t set;
    sigemptyset(&set);
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD };
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
        sigaddset(&set, sigs[i]);
    signal(SIGPIPE, SIG_IGN);
    /* Orphaned descendants are re-parented to us, so teardown can find and
     * kill everything the workload started even without a cgroup. */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    return loop_watch_signals(run->loop, &set, on_signal, run);
}

static int resolve_secrets(struct cell_run *run)
{
    struct cell_err err = { 0 };
    int r = secrets_resolve(run->cfg.broker, env_getter, run->spec->secret_refs,
                            run->spec->n_secret_refs, &run->secrets, &err);
    if (r < 0) {
        log_error("%s", err.msg);
        run_result_fail(&run->result, 125, err.reason, err.msg);
    }
    return r;
}

/* The proxies' endpoints and the ruleset, then the helper that puts them
 * into a new netns while the rest of the cell is built. Called before the
 * signing key is read and the sinks are opened (a NATS connect can take a
 * while), so the helper's work overlaps those too; a failure is recorded in
 * run->result (and logged) and reported as events once the sinks exist. */
static int setup_network(struct cell_run *run)
{
    struct cell_err err = { 0 };
    struct cell_net_parts parts = { &run->dns, &run->flowlog, &run->l7, &run->net };
    int r = cell_net_plan(&parts, run->spec, &run->cfg, &err);
    if (r < 0) {
        log_error("%s", err.msg);
        run_result_fail(&run->result, 125, "isolation_failed", err.msg);
        return r;
    }
    return start_network(run);
}

static int setup_isolation(struct cell_run *run)
{
    struct cell_err err = { 0 };
    _cleanup_free_ char *resolv = cell_dns_resolv_conf(&run->dns);
    int r = isolation_setup(&run->iso, run->spec, &run->cfg, &run->secrets, resolv, &err);
    if (r < 0) {
        log_error("cannot enforce the cell's isolation: %s", err.msg);
        run_result_fail(&run->result, 125, "isolation_failed", err.msg);
        return r;
    }
    run->iso_ready = true;
    return 0;
}

static int run_workload(struct cell_run *run)
{
    if (!run->spec->run.present)
        return 0;
    run->start_ms = now_mono_ms();
    int r = spawn_workload(run);
    if (r < 0)
        return r;
    r = run_loop(run);
    if (r < 0) {
        run_result_fail(&run->result, 125, "spawn_failed", "the event loop failed");
        kill_cell(run);
    }
    return r;
}

static void release_proxies(struct cell_run *run)
{
    cell_dns_clear(&run->dns);   /* before the table it feeds goes with the L7 proxy */
    cell_l7_clear(&run->l7);
    cell_flowlog_clear(&run->flowlog);
}

/* The helper (killed if it still runs), the netns descriptor, the plan. */
static void release_network(struct cell_run *run)
{
    netprep_clear(&run->prep);
    network_clear(&run->net);
}

/* The cgroup, when there is one, is killed and emptied by its destroy step
 * in isolation_teardown; here the rest: process group, init, orphans. */
static void teardown(struct cell_run *run)
{
    json_t *summary = json_object();
    cell_dns_counts(&run->dns, summary);
    cell_flowlog_drain(&run->flowlog);
    cell_flowlog_counts(&run->flowlog, summary);
    cell_l7_counts(&run->l7, summary);
    network_emit_enforcement(&run->net, run->dns.proxy != NULL, cell_l7_running(&run->l7),
                             summary, &run->bus);
    network_emit_counters(&run->net, &run->bus);
    release_proxies(run);
    signal_cell(run, SIGKILL);
    if (run->child.pid > 0)
        kill(run->child.pid, SIGKILL);
    process_kill_descendants(run->child.pid);
    if (run->child.pidfd >= 0)
        close(run->child.pidfd);
    run->child = (struct spawned){ .pid = 0, .pidfd = -1 };
    if (run->status_fd >= 0)
        close(run->status_fd);
    run->status_fd = -1;
    if (run->iso_ready)
        isolation_teardown(&run->iso, &run->result);
    run->iso_ready = false;
    release_network(run);
    secrets_free(&run->secrets);
}

/* Everything after the sinks are open: each failure is reported as events,
 * and exactly one destroyed event closes the run. */
static void run_cell(struct cell_run *run)
{
    if (run->cfg.has_error) {
        log_error("%s", run->cfg.error.msg);
        run_result_fail(&run->result, 125, run->cfg.error.reason, run->cfg.error.msg);
    } else if (setup_signals(run) < 0) {
        run_result_fail(&run->result, 125, "spawn_failed", "cannot watch signals");
    } else if (!run->result.failed && resolve_secrets(run) == 0 &&
               setup_isolation(run) == 0) {
        struct isolation_info info;
        isolation_describe(&run->iso, &info);
        emit_started(&run->bus, run->spec, run->spec_bytes, run->spec_len, &info);
        if (run_workload(run) == 0 && run->spec->run.present)
            emit_command_outcome(&run->bus, &run->result, spec_effective_timeout_ms(run->spec));
    }
    if (run->result.failed && !run->result.reported)
        emit_command_outcome(&run->bus, &run->result, 0);
    teardown(run);
    emit_destroyed(&run->bus, &run->result);
}

static int print_spec_errors(const struct spec_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        log_error("invalid spec: %s: %s", errs->items[i].path, errs->items[i].message);
    return 2;
}

int supervisor_run(const char *spec_bytes, size_t spec_len)
{
    struct cell_run run = { .spec_bytes = spec_bytes, .spec_len = spec_len,
                            .child = { .pid = 0, .pidfd = -1 }, .status_fd = -1,
                            .net = { .netns_fd = -1 }, .dns = { .cell_netns_fd = -1 },
                            .flowlog = CELL_FLOWLOG_INIT, .prep = NETPREP_INIT };
    struct spec_errors errs = { 0 };
    if (spec_parse(spec_bytes, spec_len, &run.spec, &errs) < 0) {
        int status = print_spec_errors(&errs);
        spec_errors_free(&errs);
        return status;
    }
    spec_errors_free(&errs);
    _cleanup_free_ char *warnings = NULL;
    sup_config_load(env_getter, &run.cfg, &warnings);
    if (warnings)
        log_warn("%s", warnings);
    int status = 2;
    event_bus_init(&run.bus);
    run_result_init(&run.result);
    if (check_argv0_policy(&run) == 0) {
        status = 125;
        if (!run.cfg.has_error)
            (void)setup_network(&run);
        if (setup_signing(&run) == 0 && open_sinks(&run) == 0 && loop_new(&run.loop) == 0) {
            event_ctx_init(&run.bus.ctx, run.spec->id, run.spec->correlation_id);
            run_cell(&run);
            event_bus_flush(&run.bus);
            status = run_result_exit_status(&run.result, run.bus.failed);
        } else {
            release_proxies(&run);
            release_network(&run);
        }
    }
    event_bus_close(&run.bus);
    loop_free(run.loop);
    run_result_clear(&run.result);
    sup_config_clear(&run.cfg);
    spec_free(run.spec);
    return status;
}
