#include "config.h"

#include <string.h>

#include "base/buf.h"
#include "base/strtab.h"

static const struct strtab_entry profiles[] = {
    { PROFILE_PORTABLE, "portable" },
    { PROFILE_HARDENED, "hardened" },
};

static const struct strtab_entry brokers[] = {
    { BROKER_ENV, "env" },
    { BROKER_FILE, "file" },
};

static const struct strtab_entry namespace_tokens[] = {
    { NS_PID, "pid" }, { NS_IPC, "ipc" }, { NS_NET, "net" }, { NS_UTS, "uts" },
    { NS_MNT, "mnt" }, { NS_MNT, "mount" }, { NS_MNT, "ns" },
};

static const struct strtab_entry namespace_display[] = {
    { NS_PID, "pid" }, { NS_IPC, "ipc" }, { NS_NET, "net" }, { NS_UTS, "uts" }, { NS_MNT, "mnt" },
};

unsigned parse_unshare_list(const char *value, struct buf *warnings)
{
    if (strcmp(value, "1") == 0 || strcmp(value, "default") == 0)
        return NS_DEFAULT;
    _cleanup_free_ char *copy = xstrdup(value);
    unsigned mask = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int bit = strtab_value(namespace_tokens, ARRAY_SIZE(namespace_tokens), tok);
        if (bit < 0)
            buf_printf(warnings, "CELLOS_SUBPROCESS_UNSHARE: unknown namespace '%s' ignored "
                                 "(use pid, ipc, net, uts, mnt)\n", tok);
        else
            mask |= (unsigned)bit;
    }
    return mask;
}

size_t namespace_names(unsigned mask, const char **names, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(namespace_display); i++)
        if (mask & (unsigned)namespace_display[i].value) {
            if (n < cap)
                names[n] = namespace_display[i].name;
            n++;
        }
    return n;
}

static const char *get_nonempty(getenv_fn get, const char *name)
{
    const char *v = get(name);
    return v && *v ? v : NULL;
}

/* "a, b,,c" -> {"a","b","c",NULL}; NULL when nothing is left. */
static char **split_list(const char *text)
{
    _cleanup_free_ char *copy = xstrdup(text);
    size_t n = 0;
    char **items = xcalloc(strlen(text) / 2 + 2, sizeof(*items));
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t len = strlen(tok);
        while (len && tok[len - 1] == ' ')
            tok[--len] = '\0';
        if (len)
            items[n++] = xstrdup(tok);
    }
    if (n == 0) {
        free(items);
        return NULL;
    }
    return items;
}

static int load_enum(getenv_fn get, const char *name, const struct strtab_entry *tab, size_t n,
                     int fallback, int *out, struct cell_err *err)
{
    const char *v = get_nonempty(get, name);
    if (!v) {
        *out = fallback;
        return 0;
    }
    int value = strtab_value(tab, n, v);
    if (value < 0) {
        _cleanup_buf_ struct buf allowed = BUF_INIT;
        for (size_t i = 0; i < n; i++)
            buf_printf(&allowed, "%s%s", i ? ", " : "", tab[i].name);
        return cell_err_set(err, EINVAL, "isolation_failed", "%s=%s: must be one of %s", name, v,
                            allowed.data);
    }
    *out = value;
    return 0;
}

void sup_config_load(getenv_fn get, struct sup_config *cfg, char **warnings)
{
    struct sup_config c = { 0 };
    _cleanup_buf_ struct buf warn = BUF_INIT;
    int profile = PROFILE_PORTABLE, broker = BROKER_ENV;
    if (load_enum(get, "CELLOS_DEPLOYMENT_PROFILE", profiles, ARRAY_SIZE(profiles),
                  PROFILE_PORTABLE, &profile, &c.error) < 0 ||
        load_enum(get, "CELLOS_BROKER", brokers, ARRAY_SIZE(brokers), BROKER_ENV, &broker,
                  &c.error) < 0)
        c.has_error = true;
    c.profile = (enum deployment_profile)profile;
    c.broker = (enum secret_broker)broker;

    const char *jsonl = get_nonempty(get, "CELLOS_JSONL_SINK_PATH");
    if (!jsonl)
        jsonl = get_nonempty(get, "CELL_OS_JSONL_EVENTS");
    c.jsonl_path = xstrdup(jsonl);
    const char *noop = get_nonempty(get, "CELL_OS_USE_NOOP_SINK");
    c.noop_sink = noop && strcmp(noop, "1") == 0;
    const char *prefixes = get_nonempty(get, "CELLOS_RUN_ARGV0_ALLOW_PREFIXES");
    if (prefixes) {
        c.argv0_allow_prefixes = split_list(prefixes);
        if (!c.argv0_allow_prefixes)
            buf_puts(&warn, "CELLOS_RUN_ARGV0_ALLOW_PREFIXES lists no prefix; ignored\n");
    }
    c.export_dir = xstrdup(get_nonempty(get, "CELLOS_EXPORT_DIR"));
    c.backend = xstrdup(get_nonempty(get, "CELLOS_CELL_BACKEND"));
    bool hardened = c.profile == PROFILE_HARDENED;
    const char *unshare = get_nonempty(get, "CELLOS_SUBPROCESS_UNSHARE");
    c.namespaces = hardened ? NS_ALL : unshare ? parse_unshare_list(unshare, &warn) : 0;
    const char *parent = get_nonempty(get, "CELLOS_CGROUP_PARENT");
    c.cgroup_parent = xstrdup(parent ? parent : hardened ? "cellos" : NULL);
    c.cgroup_memory_max = xstrdup(get_nonempty(get, "CELLOS_CGROUP_MEMORY_MAX"));
    c.cgroup_cpu_max = xstrdup(get_nonempty(get, "CELLOS_CGROUP_CPU_MAX"));
    const char *seccomp = get_nonempty(get, "CELLOS_SECCOMP");
    c.seccomp = xstrdup(seccomp ? seccomp : hardened ? "baseline" : "off");
    c.nats_url = xstrdup(get_nonempty(get, "CELLOS_NATS_URL"));
    const char *subject = get_nonempty(get, "CELLOS_NATS_SUBJECT");
    c.nats_subject = xstrdup(subject ? subject : "cellos.events.{cellId}");
    const char *require = get_nonempty(get, "CELL_OS_REQUIRE_JETSTREAM");
    c.require_jetstream = require && strcmp(require, "1") == 0;
    const char *counters = get_nonempty(get, "CELLOS_PER_FLOW_ENFORCEMENT_EVENTS");
    c.per_flow_counters = counters && strcmp(counters, "1") == 0;
    const char *realtime = get_nonempty(get, "CELLOS_PER_FLOW_REALTIME");
    c.per_flow_realtime = realtime && strcmp(realtime, "1") == 0;
    /* hardened: the DNS proxy whenever the spec has a dnsAuthority (CONTRACT
     * section 3), whatever CELLOS_DNS_PROXY says. */
    const char *proxy = get_nonempty(get, "CELLOS_DNS_PROXY");
    c.dns_proxy = hardened || (proxy && strcmp(proxy, "1") == 0);
    const char *sni = get_nonempty(get, "CELLOS_SNI_PROXY");
    c.sni_proxy = sni && strcmp(sni, "1") == 0;
    c.dns_upstream_override = xstrdup(get_nonempty(get, "CELLOS_DNS_PROXY_UPSTREAM_OVERRIDE"));
    if (!c.has_error && c.backend && strcmp(c.backend, "stub") != 0) {
        c.has_error = true;
        cell_err_set(&c.error, ENOTSUP, "isolation_failed",
                     "CELLOS_CELL_BACKEND=%s: this backend is not available yet (use stub)",
                     c.backend);
    }
    *cfg = c;
    if (warnings)
        *warnings = warn.len ? buf_steal(&warn) : NULL;
}

void sup_config_clear(struct sup_config *cfg)
{
    free(cfg->jsonl_path);
    if (cfg->argv0_allow_prefixes)
        for (char **p = cfg->argv0_allow_prefixes; *p; p++)
            free(*p);
    free(cfg->argv0_allow_prefixes);
    free(cfg->export_dir);
    free(cfg->backend);
    free(cfg->cgroup_parent);
    free(cfg->cgroup_memory_max);
    free(cfg->cgroup_cpu_max);
    free(cfg->seccomp);
    free(cfg->nats_url);
    free(cfg->nats_subject);
    free(cfg->dns_upstream_override);
    memset(cfg, 0, sizeof(*cfg));
}
