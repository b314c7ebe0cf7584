/* schema.c: the spec's shape as tables, and one walker over them.
 *
 * Each object level is a table of {key, JSON type, required, handler}. The
 * walker reports unknown keys, wrong types and missing required keys; the
 * handler checks the value's own rules and stores it. Every error is
 * collected with its path; nothing stops at the first. */
#include <string.h>

#include "policy/hostmatch.h"
#include "spec/spec-internal.h"

enum jtype { JT_STRING, JT_INTEGER, JT_BOOLEAN, JT_OBJECT, JT_ARRAY, JT_ANY };

struct vctx {
    struct cell_spec *spec;
    struct spec_errors *errs;
    struct buf path;
    /* run.timeoutMs / run.timeoutSeconds, reconciled after the walk */
    bool has_timeout_ms, has_timeout_s;
    uint64_t timeout_ms, timeout_s_as_ms;
};

typedef void field_fn(struct vctx *c, json_t *v, void *dst);
typedef void elem_fn(struct vctx *c, json_t *v, void *dst, size_t i);

struct field {
    const char *key;
    enum jtype type;
    bool required;
    field_fn *fn;
};

#define ERR(c, ...) spec_errors_add((c)->errs, spec_path_str(&(c)->path), __VA_ARGS__)

static bool type_ok(json_t *v, enum jtype t)
{
    switch (t) {
    case JT_STRING: return json_is_string(v);
    case JT_INTEGER: return json_is_integer(v);
    case JT_BOOLEAN: return json_is_boolean(v);
    case JT_OBJECT: return json_is_object(v);
    case JT_ARRAY: return json_is_array(v);
    case JT_ANY: return true;
    }
    return false;
}

static const char *const type_message[] = {
    [JT_STRING] = "must be a string",   [JT_INTEGER] = "must be an integer",
    [JT_BOOLEAN] = "must be a boolean", [JT_OBJECT] = "must be an object",
    [JT_ARRAY] = "must be an array",    [JT_ANY] = "",
};

static const struct field *find_field(const struct field *fields, size_t n, const char *key,
                                      size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(fields[i].key) == len && memcmp(fields[i].key, key, len) == 0)
            return &fields[i];
    return NULL;
}

static void walk_object(struct vctx *c, json_t *obj, const struct field *fields, size_t n,
                        void *dst)
{
    for (size_t i = 0; i < n; i++) {
        if (fields[i].required && !json_object_get(obj, fields[i].key)) {
            size_t old = spec_path_push_key(&c->path, fields[i].key, strlen(fields[i].key));
            ERR(c, "is required");
            spec_path_pop(&c->path, old);
        }
    }
    const char *key;
    size_t len;
    json_t *val;
    json_object_keylen_foreach(obj, key, len, val) {
        size_t old = spec_path_push_key(&c->path, key, len);
        const struct field *f = find_field(fields, n, key, len);
        if (!f)
            ERR(c, "unknown key");
        else if (!type_ok(val, f->type))
            ERR(c, "%s", type_message[f->type]);
        else
            f->fn(c, val, dst);
        spec_path_pop(&c->path, old);
    }
}

#define WALK(c, v, table, dst) walk_object(c, v, table, ARRAY_SIZE(table), dst)

static void walk_array(struct vctx *c, json_t *arr, enum jtype elem_type, elem_fn *fn, void *dst)
{
    size_t i;
    json_t *elem;
    json_array_foreach(arr, i, elem) {
        size_t old = spec_path_push_index(&c->path, i);
        if (!type_ok(elem, elem_type))
            ERR(c, "%s", type_message[elem_type]);
        else
            fn(c, elem, dst, i);
        spec_path_pop(&c->path, old);
    }
}

/* The string of a JSON string, or NULL (reported) when it holds a NUL. */
static const char *str(struct vctx *c, json_t *v)
{
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        ERR(c, "must not contain NUL");
        return NULL;
    }
    return s;
}

/* A JSON integer within [lo, hi]; otherwise reports `message`. */
static bool int_in(struct vctx *c, json_t *v, long long lo, long long hi, const char *message,
                   uint64_t *out)
{
    long long x = json_integer_value(v);
    if (x < lo || x > hi) {
        ERR(c, "%s", message);
        return false;
    }
    *out = (uint64_t)x;
    return true;
}

/* A string from a name table; otherwise reports `message`. */
static bool enum_value(struct vctx *c, json_t *v, const struct strtab_entry *tab, size_t n,
                       const char *message, int *out)
{
    const char *s = str(c, v);
    int r = s ? strtab_value(tab, n, s) : -ENOENT;
    if (r < 0) {
        if (s)
            ERR(c, "%s", message);
        return false;
    }
    *out = r;
    return true;
}

static char *checked_string(struct vctx *c, json_t *v, int (*check)(const char *, const char **))
{
    const char *s = str(c, v), *why;
    if (!s)
        return NULL;
    if (check && check(s, &why) < 0) {
        ERR(c, "%s", why);
        return NULL;
    }
    return xstrdup(s);
}

static void *alloc_array(json_t *arr, size_t elem_size, size_t *n)
{
    *n = json_array_size(arr);
    return xcalloc(*n, elem_size);
}

/* ---- top level ---- */

static void on_api_version(struct vctx *c, json_t *v, void *dst)
{
    const char *s = str(c, v);
    if (s && strcmp(s, "cellos.io/v1") != 0)
        ERR(c, "must be \"cellos.io/v1\"");
    else if (s)
        c->spec->api_version = xstrdup(s);
}

static void on_kind(struct vctx *c, json_t *v, void *dst)
{
    const char *s = str(c, v);
    if (s && strcmp(s, "ExecutionCell") != 0)
        ERR(c, "must be \"ExecutionCell\"");
    else if (s)
        c->spec->kind = xstrdup(s);
}

/* ---- spec.correlation ---- */

static int check_correlation_text(const char *s, const char **why)
{
    if (!s[0]) {
        *why = "must not be empty";
        return -EINVAL;
    }
    if (strlen(s) > 256) {
        *why = "must be at most 256 bytes";
        return -EINVAL;
    }
    return 0;
}

static void on_correlation_id(struct vctx *c, json_t *v, void *dst)
{
    c->spec->correlation_id = checked_string(c, v, check_correlation_text);
}

static void on_tenant_id(struct vctx *c, json_t *v, void *dst)
{
    c->spec->tenant_id = checked_string(c, v, check_correlation_text);
}

static const struct field correlation_fields[] = {
    { "correlationId", JT_STRING, true, on_correlation_id },
    { "tenantId", JT_STRING, false, on_tenant_id },
};

/* ---- spec.authority ---- */

static void on_secret_ref(struct vctx *c, json_t *v, void *dst, size_t i)
{
    c->spec->secret_refs[i] = checked_string(c, v, spec_check_secret_key);
}

static void on_secret_refs(struct vctx *c, json_t *v, void *dst)
{
    c->spec->secret_refs = alloc_array(v, sizeof(char *), &c->spec->n_secret_refs);
    walk_array(c, v, JT_STRING, on_secret_ref, NULL);
}

static void on_egress_host(struct vctx *c, json_t *v, void *dst)
{
    struct egress_rule *rule = dst;
    const char *s = str(c, v), *why;
    if (!s)
        return;
    if (spec_parse_egress_host(s, rule, &why) < 0) {
        ERR(c, "%s", why);
        return;
    }
    rule->host = xstrdup(s);
}

static void on_egress_port(struct vctx *c, json_t *v, void *dst)
{
    struct egress_rule *rule = dst;
    uint64_t port;
    if (int_in(c, v, 1, 65535, "must be 1..65535", &port))
        rule->port = (uint16_t)port;
}

static void on_egress_protocol(struct vctx *c, json_t *v, void *dst)
{
    struct egress_rule *rule = dst;
    int p;
    if (enum_value(c, v, spec_net_protos, ARRAY_SIZE(spec_net_protos), "must be \"tcp\" or \"udp\"", &p))
        rule->protocol = (enum net_proto)p;
}

static const struct field egress_fields[] = {
    { "host", JT_STRING, true, on_egress_host },
    { "port", JT_INTEGER, true, on_egress_port },
    { "protocol", JT_STRING, false, on_egress_protocol },
};

static void on_egress_rule(struct vctx *c, json_t *v, void *dst, size_t i)
{
    c->spec->egress_rules[i].protocol = NET_PROTO_TCP;
    WALK(c, v, egress_fields, &c->spec->egress_rules[i]);
}

static void on_egress_rules(struct vctx *c, json_t *v, void *dst)
{
    c->spec->egress_rules = alloc_array(v, sizeof(struct egress_rule), &c->spec->n_egress_rules);
    walk_array(c, v, JT_OBJECT, on_egress_rule, NULL);
}

/* ---- spec.authority.dnsAuthority ---- */

static void on_allowlist_entry(struct vctx *c, json_t *v, void *dst, size_t i)
{
    c->spec->dns.hostname_allowlist[i] = checked_string(c, v, hostmatch_check_pattern);
}

static void on_allowlist(struct vctx *c, json_t *v, void *dst)
{
    struct dns_authority *dns = &c->spec->dns;
    dns->hostname_allowlist = alloc_array(v, sizeof(char *), &dns->n_hostname_allowlist);
    walk_array(c, v, JT_STRING, on_allowlist_entry, NULL);
}

static void on_block_direct(struct vctx *c, json_t *v, void *dst)
{
    c->spec->dns.block_direct_workload_dns = json_is_true(v);
}

static int check_nonempty(const char *s, const char **why)
{
    if (s[0])
        return 0;
    *why = "must not be empty";
    return -EINVAL;
}

static void on_resolver_id(struct vctx *c, json_t *v, void *dst)
{
    struct dns_resolver *res = dst;
    res->resolver_id = checked_string(c, v, check_nonempty);
}

static void on_resolver_endpoint(struct vctx *c, json_t *v, void *dst)
{
    struct dns_resolver *res = dst;
    const char *s = str(c, v), *why;
    if (!s)
        return;
    if (spec_parse_endpoint(s, res, &why) < 0)
        ERR(c, "%s", why);
    else
        res->endpoint = xstrdup(s);
}

static void on_resolver_protocol(struct vctx *c, json_t *v, void *dst)
{
    struct dns_resolver *res = dst;
    int p;
    if (enum_value(c, v, spec_resolver_protos, ARRAY_SIZE(spec_resolver_protos),
                   "must be \"do53-udp\" or \"do53-tcp\"", &p))
        res->protocol = (enum resolver_proto)p;
}

static const struct field resolver_fields[] = {
    { "resolverId", JT_STRING, true, on_resolver_id },
    { "endpoint", JT_STRING, true, on_resolver_endpoint },
    { "protocol", JT_STRING, false, on_resolver_protocol },
};

static void on_resolver(struct vctx *c, json_t *v, void *dst, size_t i)
{
    c->spec->dns.resolvers[i].protocol = RESOLVER_DO53_UDP;
    WALK(c, v, resolver_fields, &c->spec->dns.resolvers[i]);
}

static void on_resolvers(struct vctx *c, json_t *v, void *dst)
{
    struct dns_authority *dns = &c->spec->dns;
    dns->resolvers = alloc_array(v, sizeof(struct dns_resolver), &dns->n_resolvers);
    walk_array(c, v, JT_OBJECT, on_resolver, NULL);
}

static void on_qtype(struct vctx *c, json_t *v, void *dst, size_t i)
{
    const char *s = str(c, v);
    uint16_t t = s ? dns_qtype_from_name(s) : 0;
    if (s && !t)
        ERR(c, "unknown DNS query type (use a mnemonic such as A, AAAA, HTTPS, or TYPE<n>)");
    c->spec->dns.allowed_qtypes[i] = t;
}

static void on_qtypes(struct vctx *c, json_t *v, void *dst)
{
    struct dns_authority *dns = &c->spec->dns;
    if (json_array_size(v) == 0) {
        ERR(c, "must not be empty (omit it for the default A, AAAA, CNAME, HTTPS)");
        return;
    }
    dns->allowed_qtypes = alloc_array(v, sizeof(uint16_t), &dns->n_allowed_qtypes);
    dns->allowed_qtypes_given = true;
    walk_array(c, v, JT_STRING, on_qtype, NULL);
}

static const struct field dns_fields[] = {
    { "hostnameAllowlist", JT_ARRAY, false, on_allowlist },
    { "blockDirectWorkloadDns", JT_BOOLEAN, false, on_block_direct },
    { "resolvers", JT_ARRAY, false, on_resolvers },
    { "allowedQueryTypes", JT_ARRAY, false, on_qtypes },
};

static void on_dns_authority(struct vctx *c, json_t *v, void *dst)
{
    c->spec->dns.present = true;
    WALK(c, v, dns_fields, NULL);
}

static const struct field authority_fields[] = {
    { "secretRefs", JT_ARRAY, false, on_secret_refs },
    { "egressRules", JT_ARRAY, false, on_egress_rules },
    { "dnsAuthority", JT_OBJECT, false, on_dns_authority },
};

/* ---- spec.lifetime ---- */

static void on_ttl(struct vctx *c, json_t *v, void *dst)
{
    int_in(c, v, 1, 604800, "must be 1..604800", &c->spec->ttl_seconds);
}

static const struct field lifetime_fields[] = {
    { "ttlSeconds", JT_INTEGER, true, on_ttl },
};

/* ---- spec.run.limits ---- */

#define CPU_QUOTA_MAX 17592186044415LL /* the kernel's cfs quota bound, 2^44-1 us */

static void on_memory_max(struct vctx *c, json_t *v, void *dst)
{
    struct run_limits *l = dst;
    l->has_memory_max = int_in(c, v, 1, INT64_MAX, "must be a positive integer",
                               &l->memory_max_bytes);
}

static void on_cpu_quota(struct vctx *c, json_t *v, void *dst)
{
    struct cpu_max *cpu = dst;
    const char *message = "must be an integer 1000..17592186044415 or \"max\"";
    if (json_is_string(v) && strcmp(json_string_value(v), "max") == 0 &&
        json_string_length(v) == 3)
        cpu->unlimited = true;
    else if (json_is_integer(v))
        int_in(c, v, 1000, CPU_QUOTA_MAX, message, &cpu->quota_micros);
    else
        ERR(c, "%s", message);
}

static void on_cpu_period(struct vctx *c, json_t *v, void *dst)
{
    struct cpu_max *cpu = dst;
    int_in(c, v, 1000, 1000000, "must be 1000..1000000", &cpu->period_micros);
}

static const struct field cpu_fields[] = {
    { "quotaMicros", JT_ANY, true, on_cpu_quota },
    { "periodMicros", JT_INTEGER, false, on_cpu_period },
};

static void on_cpu_max(struct vctx *c, json_t *v, void *dst)
{
    struct run_limits *l = dst;
    l->cpu_max = (struct cpu_max){ .present = true, .period_micros = 100000 };
    WALK(c, v, cpu_fields, &l->cpu_max);
}

static void on_pids_max(struct vctx *c, json_t *v, void *dst)
{
    struct run_limits *l = dst;
    l->has_pids_max = int_in(c, v, 1, 4194304, "must be 1..4194304", &l->pids_max);
}

static void on_graceful(struct vctx *c, json_t *v, void *dst)
{
    struct run_limits *l = dst;
    uint64_t s;
    if (int_in(c, v, 0, 3600, "must be 0..3600", &s)) {
        l->has_graceful_shutdown = true;
        l->graceful_shutdown_seconds = (uint32_t)s;
    }
}

static const struct field limits_fields[] = {
    { "memoryMaxBytes", JT_INTEGER, false, on_memory_max },
    { "cpuMax", JT_OBJECT, false, on_cpu_max },
    { "pidsMax", JT_INTEGER, false, on_pids_max },
    { "gracefulShutdownSeconds", JT_INTEGER, false, on_graceful },
};

/* ---- spec.run ---- */

static void on_argv_elem(struct vctx *c, json_t *v, void *dst, size_t i)
{
    struct run_spec *run = dst;
    const char *s = str(c, v);
    if (s && i == 0 && !s[0])
        ERR(c, "must not be empty");
    else if (s)
        run->argv[i] = xstrdup(s);
}

static void on_argv(struct vctx *c, json_t *v, void *dst)
{
    struct run_spec *run = dst;
    size_t n = json_array_size(v);
    if (n == 0) {
        ERR(c, "must not be empty");
        return;
    }
    run->argv = xcalloc(n + 1, sizeof(char *));
    run->argc = n;
    walk_array(c, v, JT_STRING, on_argv_elem, run);
}

static void on_workdir(struct vctx *c, json_t *v, void *dst)
{
    struct run_spec *run = dst;
    run->working_directory = checked_string(c, v, spec_check_abs_path);
}

static void on_timeout_ms(struct vctx *c, json_t *v, void *dst)
{
    c->has_timeout_ms = int_in(c, v, 1, INT64_MAX, "must be a positive integer", &c->timeout_ms);
}

#define TIMEOUT_SECONDS_MAX (INT64_MAX / 1000)

static void on_timeout_s(struct vctx *c, json_t *v, void *dst)
{
    uint64_t s;
    if (json_integer_value(v) > TIMEOUT_SECONDS_MAX) {
        ERR(c, "must be at most %lld", (long long)TIMEOUT_SECONDS_MAX);
    } else if (int_in(c, v, 1, TIMEOUT_SECONDS_MAX, "must be a positive integer", &s)) {
        c->has_timeout_s = true;
        c->timeout_s_as_ms = s * 1000;
    }
}

static void on_secret_delivery(struct vctx *c, json_t *v, void *dst)
{
    struct run_spec *run = dst;
    int d;
    if (enum_value(c, v, spec_secret_deliveries, ARRAY_SIZE(spec_secret_deliveries),
                   "must be \"env\" or \"runtimeBroker\"", &d))
        run->secret_delivery = (enum secret_delivery)d;
}

static void on_user(struct vctx *c, json_t *v, void *dst)
{
    struct run_spec *run = dst;
    const char *s = str(c, v), *why;
    if (s && spec_parse_user(s, &run->user, &why) < 0)
        ERR(c, "%s", why);
}

static void on_limits(struct vctx *c, json_t *v, void *dst)
{
    struct run_spec *run = dst;
    WALK(c, v, limits_fields, &run->limits);
}

static const struct field run_fields[] = {
    { "argv", JT_ARRAY, true, on_argv },
    { "workingDirectory", JT_STRING, false, on_workdir },
    { "timeoutMs", JT_INTEGER, false, on_timeout_ms },
    { "timeoutSeconds", JT_INTEGER, false, on_timeout_s },
    { "secretDelivery", JT_STRING, false, on_secret_delivery },
    { "user", JT_STRING, false, on_user },
    { "limits", JT_OBJECT, false, on_limits },
};

static void on_run(struct vctx *c, json_t *v, void *dst)
{
    c->spec->run.present = true;
    WALK(c, v, run_fields, &c->spec->run);
}

/* ---- spec.export ---- */

static void on_artifact_name(struct vctx *c, json_t *v, void *dst)
{
    struct artifact *a = dst;
    a->name = checked_string(c, v, spec_check_safe_segment);
}

static void on_artifact_path(struct vctx *c, json_t *v, void *dst)
{
    struct artifact *a = dst;
    a->path = checked_string(c, v, spec_check_abs_path);
}

static const struct field artifact_fields[] = {
    { "name", JT_STRING, true, on_artifact_name },
    { "path", JT_STRING, true, on_artifact_path },
};

static void on_artifact(struct vctx *c, json_t *v, void *dst, size_t i)
{
    WALK(c, v, artifact_fields, &c->spec->artifacts[i]);
}

static void on_artifacts(struct vctx *c, json_t *v, void *dst)
{
    c->spec->artifacts = alloc_array(v, sizeof(struct artifact), &c->spec->n_artifacts);
    walk_array(c, v, JT_OBJECT, on_artifact, NULL);
}

static const struct field export_fields[] = {
    { "artifacts", JT_ARRAY, false, on_artifacts },
};

/* ---- spec ---- */

static void on_id(struct vctx *c, json_t *v, void *dst)
{
    c->spec->id = checked_string(c, v, spec_check_id);
}

#define OBJECT_HANDLER(name, table)                                                     \
    static void name(struct vctx *c, json_t *v, void *dst) { WALK(c, v, table, dst); }

OBJECT_HANDLER(on_correlation, correlation_fields)
OBJECT_HANDLER(on_authority, authority_fields)
OBJECT_HANDLER(on_lifetime, lifetime_fields)
OBJECT_HANDLER(on_export, export_fields)

static const struct field spec_fields[] = {
    { "id", JT_STRING, true, on_id },
    { "correlation", JT_OBJECT, false, on_correlation },
    { "authority", JT_OBJECT, true, on_authority },
    { "lifetime", JT_OBJECT, true, on_lifetime },
    { "run", JT_OBJECT, false, on_run },
    { "export", JT_OBJECT, false, on_export },
};

OBJECT_HANDLER(on_spec, spec_fields)

static const struct field root_fields[] = {
    { "apiVersion", JT_STRING, true, on_api_version },
    { "kind", JT_STRING, true, on_kind },
    { "spec", JT_OBJECT, true, on_spec },
};

/* ---- rules across fields, after the walk ---- */

static void reconcile_timeouts(struct vctx *c)
{
    struct run_spec *run = &c->spec->run;
    if (c->has_timeout_ms && c->has_timeout_s && c->timeout_ms != c->timeout_s_as_ms) {
        spec_errors_add(c->errs, "spec.run.timeoutSeconds",
                        "differs from timeoutMs (give only one of them)");
        return;
    }
    if (c->has_timeout_ms || c->has_timeout_s) {
        run->has_timeout_ms = true;
        run->timeout_ms = c->has_timeout_ms ? c->timeout_ms : c->timeout_s_as_ms;
    }
}

/* With runtimeBroker each secret becomes a file named after its key. */
static void check_secret_file_names(struct vctx *c)
{
    if (c->spec->run.secret_delivery != SECRET_DELIVERY_RUNTIME_BROKER)
        return;
    for (size_t i = 0; i < c->spec->n_secret_refs; i++) {
        const char *key = c->spec->secret_refs[i], *why;
        if (key && spec_check_safe_segment(key, &why) < 0) {
            _cleanup_free_ char *path = xasprintf("spec.authority.secretRefs[%zu]", i);
            spec_errors_add(c->errs, path, "%s with secretDelivery runtimeBroker", why);
        }
    }
}

struct named {
    const char *name;
    size_t index;
};

static int cmp_named(const void *pa, const void *pb)
{
    const struct named *a = pa, *b = pb;
    int r = strcmp(a->name, b->name);
    return r ? r : (a->index > b->index) - (a->index < b->index);
}

/* Reports `<array>[i].<key>: <message>` for every entry whose name an
 * earlier entry already has. Sorting keeps this O(n log n) however long
 * the (untrusted) list is. */
static void report_duplicate_names(struct vctx *c, const char **names, size_t n,
                                   const char *array, const char *key, const char *message)
{
    _cleanup_free_ struct named *sorted = xcalloc(n, sizeof(*sorted));
    _cleanup_free_ bool *dup = xcalloc(n, sizeof(*dup));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (names[i])
            sorted[m++] = (struct named){ names[i], i };
    qsort(sorted, m, sizeof(*sorted), cmp_named);
    for (size_t i = 1; i < m; i++)
        if (strcmp(sorted[i].name, sorted[i - 1].name) == 0)
            dup[sorted[i].index] = true;
    for (size_t i = 0; i < n; i++) {
        if (dup[i]) {
            _cleanup_free_ char *path = xasprintf("%s[%zu].%s", array, i, key);
            spec_errors_add(c->errs, path, "%s", message);
        }
    }
}

static void check_unique_names(struct vctx *c)
{
    const struct dns_authority *dns = &c->spec->dns;
    size_t n = dns->n_resolvers > c->spec->n_artifacts ? dns->n_resolvers : c->spec->n_artifacts;
    _cleanup_free_ const char **names = xcalloc(n, sizeof(*names));
    for (size_t i = 0; i < dns->n_resolvers; i++)
        names[i] = dns->resolvers[i].resolver_id;
    report_duplicate_names(c, names, dns->n_resolvers, "spec.authority.dnsAuthority.resolvers",
                           "resolverId", "duplicate resolverId");
    for (size_t i = 0; i < c->spec->n_artifacts; i++)
        names[i] = c->spec->artifacts[i].name;
    report_duplicate_names(c, names, c->spec->n_artifacts, "spec.export.artifacts", "name",
                           "duplicate artifact name");
}

static void default_qtypes(struct dns_authority *dns)
{
    static const uint16_t defaults[] = { 1, 28, 5, 65 }; /* A, AAAA, CNAME, HTTPS */
    if (dns->allowed_qtypes_given)
        return;
    dns->allowed_qtypes = xcalloc(ARRAY_SIZE(defaults), sizeof(uint16_t));
    memcpy(dns->allowed_qtypes, defaults, sizeof(defaults));
    dns->n_allowed_qtypes = ARRAY_SIZE(defaults);
}

void spec_validate_tree(json_t *root, struct cell_spec *spec, struct spec_errors *errs)
{
    struct vctx c = { .spec = spec, .errs = errs };
    if (!json_is_object(root)) {
        spec_errors_add(errs, SPEC_ROOT_PATH, "must be a JSON object");
        return;
    }
    WALK(&c, root, root_fields, spec);
    buf_free(&c.path);
    check_unique_names(&c);
    reconcile_timeouts(&c);
    check_secret_file_names(&c);
    default_qtypes(&spec->dns);
}
