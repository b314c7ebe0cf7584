/* plan.c: `cellos plan SPEC`: validate, then print what would be enforced,
 * without creating anything on the host. */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "cli.h"
#include "isolate/cgroup.h"
#include "isolate/mounts.h"
#include "isolate/seccomp.h"
#include "spec/spec.h"
#include "supervisor/config.h"
#include "supervisor/cell_dns.h"
#include "supervisor/cell_flowlog.h"
#include "supervisor/cell_l7.h"
#include "supervisor/cell_net.h"
#include "supervisor/isolation.h"
#include "supervisor/network.h"

static const char *env_getter(const char *name) { return getenv(name); }

static void plan_namespaces(const struct sup_config *cfg, struct buf *out)
{
    const char *names[8];
    size_t n = namespace_names(cfg->namespaces, names, ARRAY_SIZE(names));
    buf_puts(out, "namespaces:");
    for (size_t i = 0; i < n; i++)
        buf_printf(out, " %s", names[i]);
    buf_puts(out, n ? "\n" : " none (host subprocess)\n");
}

static void plan_user(const struct cell_spec *spec, const struct sup_config *cfg, struct buf *out)
{
    if (spec->run.user.present)
        buf_printf(out, "user: %u:%u, no capabilities (bounding set empty)\n",
                   spec->run.user.uid, spec->run.user.gid);
    else if (cfg->profile == PROFILE_HARDENED)
        buf_puts(out, "user: 65534:65534 (hardened default), no capabilities\n");
    else
        buf_printf(out, "user: the supervisor's%s\n",
                   cfg->namespaces & NS_NET ? ", without CAP_NET_ADMIN and CAP_NET_RAW" : "");
}

static int plan_cgroup(const struct cell_spec *spec, const struct sup_config *cfg, struct buf *out)
{
    struct cgroup_limits from_spec = { 0 }, from_env = { 0 }, lim;
    struct cell_err err;
    if (spec->run.present)
        cgroup_limits_from_spec(&from_spec, &spec->run.limits);
    if (cfg->cgroup_memory_max)
        (void)cgroup_limits_parse_memory(&from_env, cfg->cgroup_memory_max, &err);
    if (cfg->cgroup_cpu_max)
        (void)cgroup_limits_parse_cpu(&from_env, cfg->cgroup_cpu_max, &err);
    cgroup_limits_merge(&lim, &from_spec, &from_env);
    bool wanted = lim.has_memory || lim.has_cpu || lim.has_pids;
    const char *parent = cfg->cgroup_parent ? cfg->cgroup_parent
                         : wanted ? CGROUP_DEFAULT_PARENT : NULL;
    if (!parent) {
        buf_puts(out, "cgroup: none (no limits, no CELLOS_CGROUP_PARENT)\n");
        return 0;
    }
    struct cgroup_layout l;
    if (cgroup_layout_detect(&l, NULL, NULL, &err) < 0) {
        buf_printf(out, "cgroup: cannot detect the layout: %s\n", err.msg);
        return -1;
    }
    _cleanup_free_ char *rel = NULL;
    char leaf[CGROUP_LEAF_NAME_MAX];
    struct cgroup_plan p = { 0 };
    int r = cgroup_parent_resolve(&l, parent, &rel, &err);
    if (r == 0)
        r = cgroup_leaf_name(spec->id, "<run-uuid>", leaf, sizeof(leaf)) < 0 ? -1 : 0;
    if (r == 0)
        r = cgroup_plan_build(&l, rel, leaf, &lim, &p, &err);
    buf_printf(out, "cgroup (%s layout):\n", cgroup_layout_kind_name(l.kind));
    if (r < 0) {
        buf_printf(out, "  cannot be enforced: %s\n", err.msg);
    } else {
        _cleanup_buf_ struct buf ops = BUF_INIT;
        cgroup_plan_format(&p, &ops);
        for (char *line = strtok(ops.data, "\n"); line; line = strtok(NULL, "\n"))
            buf_printf(out, "  %s\n", line);
        cgroup_plan_done(&p);
    }
    cgroup_layout_done(&l);
    return r;
}

static int plan_seccomp(const struct sup_config *cfg, struct buf *out)
{
    enum seccomp_mode mode;
    struct seccomp_program prog;
    struct cell_err err;
    if (seccomp_mode_parse(cfg->seccomp, &mode) < 0 ||
        seccomp_program_build(mode, mode == CELL_SECCOMP_RAW ? cfg->seccomp : NULL, &prog, &err) < 0) {
        buf_printf(out, "seccomp: cannot be enforced: CELLOS_SECCOMP=%s\n", cfg->seccomp);
        return -1;
    }
    _cleanup_free_ char *text = seccomp_program_render(&prog);
    buf_printf(out, "seccomp: %s (NO_NEW_PRIVS always set)\n", seccomp_mode_name(mode));
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        buf_printf(out, "  %s\n", line);
    seccomp_program_free(&prog);
    return 0;
}

static int plan_mounts(const struct cell_spec *spec, const struct sup_config *cfg, struct buf *out)
{
    if (!(cfg->namespaces & NS_MNT)) {
        buf_puts(out, "filesystem: the host's (no mount namespace)\n");
        return 0;
    }
    bool broker = spec->run.present && spec->run.secret_delivery == SECRET_DELIVERY_RUNTIME_BROKER;
    bool hardened = cfg->profile == PROFILE_HARDENED;
    struct mount_opts o = {
        .uid = spec->run.user.present ? spec->run.user.uid : hardened ? 65534 : 0,
        .gid = spec->run.user.present ? spec->run.user.gid : hardened ? 65534 : 0,
        .workspace = spec->run.present ? spec->run.working_directory : NULL,
        .own_proc = (cfg->namespaces & NS_PID) != 0,
        .secrets_dir = broker ? CELL_SECRETS_DIR : NULL,
    };
    struct mount_plan p;
    struct cell_err err;
    if (mount_plan_build("/", &o, &p, &err) < 0) {
        buf_printf(out, "filesystem: cannot be built: %s\n", err.msg);
        return -1;
    }
    buf_puts(out, "filesystem (private root, host tree read-only):\n");
    mount_plan_format(&p, out);
    mount_plan_free(&p);
    return 0;
}

static void plan_proxies(const struct cell_dns *dns, const struct cell_l7 *l7,
                         const struct cell_flowlog *fl, struct buf *out)
{
    if (dns->enabled) {
        buf_puts(out, "DNS proxy: listens in the cell on");
        for (size_t i = 0; i < dns->n_listen; i++)
            buf_printf(out, "%s %s:%u (udp, tcp)", i ? "," : "", dns->listen_text[i],
                       dns->listen[i].port);
        buf_printf(out, "; upstream: %s%s; other port-53 traffic redirected to it\n",
                   dns->n_resolvers ? dns->resolvers[0].resolver_id : "none declared",
                   dns->override ? " (CELLOS_DNS_PROXY_UPSTREAM_OVERRIDE, dialled in the cell)"
                                 : " (dialled from the supervisor's netns)");
    } else {
        buf_puts(out, "DNS proxy: off (needs CELLOS_DNS_PROXY=1, dnsAuthority and a netns)\n");
    }
    if (l7->enabled) {
        buf_printf(out, "L7 proxy: TCP to ports 80, 443");
        for (size_t i = 0; i < l7->n_plain_ports; i++)
            buf_printf(out, ", %u", l7->plain_ports[i]);
        buf_printf(out, " redirected to the cell's port %u, relayed from the supervisor's netns\n",
                   l7->port);
    } else {
        buf_puts(out, "L7 proxy: off (needs CELLOS_SNI_PROXY=1 and a netns)\n");
    }
    if (cell_flowlog_group(fl))
        buf_printf(out, "realtime flow events: NFLOG group %u in the cell's netns\n",
                   cell_flowlog_group(fl));
}

/* The firewall and the proxies exactly as a run would plan them (egress
 * hostnames are resolved now, as at the start of a run). */
static int plan_network(const struct cell_spec *spec, const struct sup_config *cfg, struct buf *out)
{
    bool netns = (cfg->namespaces & NS_NET) != 0;
    if (!netns) {
        buf_puts(out, "network: the host's (no network namespace, no firewall)\n");
        return 0;
    }
    struct cell_dns dns = { .cell_netns_fd = -1 };
    struct cell_flowlog fl = CELL_FLOWLOG_INIT;
    struct cell_l7 l7 = { 0 };
    struct cell_network net = { .netns_fd = -1 };
    struct cell_err err = { 0 };
    struct cell_net_parts parts = { &dns, &fl, &l7, &net };
    int r = cell_net_plan(&parts, spec, cfg, &err);
    if (r < 0) {
        buf_printf(out, "network: cannot be planned: %s\n", err.msg);
    } else {
        buf_printf(out, "network: own netns, loopback%s; nftables table inet %s, one "
                        "transaction:\n",
                   cell_net_default_route(&parts) ? ", default route via lo" : " only",
                   net.table);
        for (char *line = strtok(net.ruleset, "\n"); line; line = strtok(NULL, "\n"))
            buf_printf(out, "  %s\n", line);
        plan_proxies(&dns, &l7, &fl, out);
    }
    network_clear(&net);
    cell_l7_clear(&l7);
    cell_flowlog_clear(&fl);
    cell_dns_clear(&dns);
    return r < 0 ? -1 : 0;
}

static void plan_run(const struct cell_spec *spec, struct buf *out)
{
    if (!spec->run.present) {
        buf_puts(out, "run: none (lifecycle only)\n");
        return;
    }
    buf_puts(out, "run:");
    for (size_t i = 0; i < spec->run.argc; i++)
        buf_printf(out, " %s", spec->run.argv[i]);
    buf_printf(out, "\ntimeout: %llu ms (smaller of run timeout and ttlSeconds)\n",
               (unsigned long long)spec_effective_timeout_ms(spec));
    buf_printf(out, "environment: PATH, CELLOS_CELL_ID, CELLOS_RUN_ID");
    if (spec->run.secret_delivery == SECRET_DELIVERY_RUNTIME_BROKER)
        buf_printf(out, ", CELLOS_SECRETS_DIR (%zu secret files, mode 0400)", spec->n_secret_refs);
    else
        for (size_t i = 0; i < spec->n_secret_refs; i++)
            buf_printf(out, ", %s (secret)", spec->secret_refs[i]);
    buf_putc(out, '\n');
}

int cmd_plan(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc == 2 ? stdout : stderr, "usage: cellos plan SPEC\n");
        return argc == 2 ? 0 : 2;
    }
    struct cell_spec *spec = NULL;
    if (cli_load_spec(argv[1], &spec) < 0)
        return 2;
    struct sup_config cfg;
    _cleanup_free_ char *warnings = NULL;
    sup_config_load(env_getter, &cfg, &warnings);
    _cleanup_buf_ struct buf out = BUF_INIT;
    buf_printf(&out, "cell %s (profile %s)\n", spec->id,
               cfg.profile == PROFILE_HARDENED ? "hardened" : "portable");
    int bad = cfg.has_error;
    if (cfg.has_error)
        buf_printf(&out, "configuration error: %s\n", cfg.error.msg);
    plan_run(spec, &out);
    plan_namespaces(&cfg, &out);
    plan_user(spec, &cfg, &out);
    bad |= plan_mounts(spec, &cfg, &out) < 0;
    bad |= plan_cgroup(spec, &cfg, &out) < 0;
    bad |= plan_seccomp(&cfg, &out) < 0;
    bad |= plan_network(spec, &cfg, &out) < 0;
    fputs(out.data, stdout);
    if (warnings)
        log_warn("%s", warnings);
    sup_config_clear(&cfg);
    spec_free(spec);
    return bad ? 125 : 0;
}
