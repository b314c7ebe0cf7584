/* cgroup.c: layout detection, limits, naming and the pure plan (nothing
 * here writes to the host). cgroup_v1.c holds cgroupfs file access and the
 * v1 specifics; cgroup_v2.c the v2 specifics and the live lifecycle. */
#include "cgroup_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/strtab.h"
#include "spec/spec.h"

static const struct strtab_entry layout_names[] = {
    { CGROUP_LAYOUT_NONE, "none" },
    { CGROUP_LAYOUT_V1, "v1" },
    { CGROUP_LAYOUT_HYBRID, "hybrid" },
    { CGROUP_LAYOUT_V2, "v2" },
};

static const struct strtab_entry ctrl_names[] = {
    { CGROUP_MEMORY, "memory" },
    { CGROUP_CPU, "cpu" },
    { CGROUP_PIDS, "pids" },
    { CGROUP_FREEZER, "freezer" },
};

/* Every v1 controller name the kernel knows: a v1 mount carrying any of
 * them makes the host v1 or hybrid, even when cellos does not use it. */
static const char *const v1_controllers[] = {
    "cpuset", "cpu", "cpuacct", "blkio", "io", "memory", "devices", "freezer",
    "net_cls", "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc",
};

const char *cgroup_layout_kind_name(enum cgroup_layout_kind k)
{
    const char *n = strtab_name(layout_names, ARRAY_SIZE(layout_names), (int)k);
    return n ? n : "unknown";
}

const char *cgroup_ctrl_name(enum cgroup_ctrl c)
{
    const char *n = strtab_name(ctrl_names, ARRAY_SIZE(ctrl_names), (int)c);
    return n ? n : "unknown";
}

/* ---- mountinfo ----------------------------------------------------------- */

struct mi_entry {
    char *point; /* unescaped */
    char *root;
    char *fstype;
    char *super_opts;
    bool read_only;
};

struct mi_table {
    struct mi_entry *v;
    size_t n;
};

static void mi_entry_done(struct mi_entry *e)
{
    free(e->point);
    free(e->root);
    free(e->fstype);
    free(e->super_opts);
    *e = (struct mi_entry){ 0 };
}

static void mi_table_done(struct mi_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        mi_entry_done(&t->v[i]);
    free(t->v);
    *t = (struct mi_table){ 0 };
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *mi_unescape(const char *s)
{
    char *out = xstrdup(s), *o = out;
    for (const char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static bool opt_list_has(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == wl && memcmp(p, word, wl) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

bool cg_path_is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) != 0)
        return false;
    return path[n] == '\0' || path[n] == '/' || (n == 1 && dir[0] == '/');
}

/* A later mount on P hides every earlier mount at or below P. */
static void mi_shadow(struct mi_table *t, const char *point)
{
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (cg_path_is_under(t->v[i].point, point))
            mi_entry_done(&t->v[i]);
        else
            t->v[w++] = t->v[i];
    }
    t->n = w;
}

/* "id parent maj:min root point opts [optional...] - fstype source superopts" */
static int mi_parse_line(char *line, struct mi_entry *e)
{
    char *tok[16];
    size_t n = 0;
    for (char *save = NULL, *s = strtok_r(line, " ", &save); s && n < ARRAY_SIZE(tok);
         s = strtok_r(NULL, " ", &save))
        tok[n++] = s;
    size_t dash = 6;
    while (dash < n && strcmp(tok[dash], "-") != 0)
        dash++;
    if (n < 7 || dash + 1 >= n)
        return -EINVAL;
    *e = (struct mi_entry){
        .point = mi_unescape(tok[4]),
        .root = mi_unescape(tok[3]),
        .fstype = xstrdup(tok[dash + 1]),
        .super_opts = xstrdup(dash + 3 < n ? tok[dash + 3] : ""),
        .read_only = opt_list_has(tok[5], "ro"),
    };
    return 0;
}

/* Only cgroup mounts are kept; malformed lines are skipped. */
static void mi_parse(char *text, struct mi_table *t)
{
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        struct mi_entry e;
        if (mi_parse_line(line, &e) < 0)
            continue;
        mi_shadow(t, e.point);
        if (strcmp(e.fstype, "cgroup") != 0 && strcmp(e.fstype, "cgroup2") != 0) {
            mi_entry_done(&e);
            continue;
        }
        t->v = xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
        t->v[t->n++] = e;
    }
}

/* ---- layout ---------------------------------------------------------------- */

static void mount_set(struct cgroup_mount *m, int version, const struct mi_entry *e,
                      const char *root)
{
    free(m->mount_point);
    free(m->path);
    m->version = version;
    m->mount_point = xstrdup(e->point);
    m->path = xasprintf("%s%s", root, e->point);
    m->read_only = e->read_only;
}

static void mount_copy(struct cgroup_mount *dst, const struct cgroup_mount *src)
{
    dst->version = src->version;
    dst->mount_point = xstrdup(src->mount_point);
    dst->path = xstrdup(src->path);
    dst->read_only = src->read_only;
}

static void mount_done(struct cgroup_mount *m)
{
    free(m->mount_point);
    free(m->path);
    *m = (struct cgroup_mount){ 0 };
}

void cgroup_layout_done(struct cgroup_layout *l)
{
    if (!l)
        return;
    mount_done(&l->v2);
    for (size_t i = 0; i < CGROUP_CTRL_COUNT; i++)
        mount_done(&l->ctrl[i]);
    *l = (struct cgroup_layout){ 0 };
}

/* Several mounts of one hierarchy (bind mounts): prefer the first showing
 * the hierarchy's root, else the first seen. rooted[] remembers which. */
static bool take_mount(const struct cgroup_mount *have, bool *rooted, const struct mi_entry *e)
{
    bool root = strcmp(e->root, "/") == 0;
    if (have->version && (*rooted || !root))
        return false;
    *rooted = root;
    return true;
}

static bool v1_has_any_controller(const char *opts)
{
    for (size_t i = 0; i < ARRAY_SIZE(v1_controllers); i++)
        if (opt_list_has(opts, v1_controllers[i]))
            return true;
    return false;
}

static unsigned v2_available(const char *v2_path)
{
    _cleanup_free_ char *text = NULL;
    if (!v2_path || cg_read_at(v2_path, "cgroup.controllers", &text) < 0)
        return 0;
    unsigned mask = 0;
    for (char *save = NULL, *w = strtok_r(text, " \t\n", &save); w;
         w = strtok_r(NULL, " \t\n", &save))
        for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++)
            if (c != CGROUP_FREEZER && strcmp(w, cgroup_ctrl_name(c)) == 0)
                mask |= 1u << c;
    return mask;
}

static void layout_from_table(struct cgroup_layout *l, const struct mi_table *t,
                              const char *root)
{
    bool any_v1 = false, rooted[CGROUP_CTRL_COUNT + 1] = { false };
    for (size_t i = 0; i < t->n; i++) {
        const struct mi_entry *e = &t->v[i];
        if (strcmp(e->fstype, "cgroup2") == 0) {
            if (take_mount(&l->v2, &rooted[CGROUP_CTRL_COUNT], e))
                mount_set(&l->v2, 2, e, root);
            continue;
        }
        any_v1 |= v1_has_any_controller(e->super_opts);
        for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++)
            if (opt_list_has(e->super_opts, cgroup_ctrl_name(c)) &&
                take_mount(&l->ctrl[c], &rooted[c], e))
                mount_set(&l->ctrl[c], 1, e, root);
    }
    l->v2_available = v2_available(l->v2.path);
    for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++)
        if (l->ctrl[c].version == 0 && (l->v2_available & (1u << c)))
            mount_copy(&l->ctrl[c], &l->v2);
    if (any_v1)
        l->kind = l->v2.version ? CGROUP_LAYOUT_HYBRID : CGROUP_LAYOUT_V1;
    else
        l->kind = l->v2.version ? CGROUP_LAYOUT_V2 : CGROUP_LAYOUT_NONE;
}

int cgroup_layout_detect(struct cgroup_layout *out, const char *mountinfo,
                         const char *root, struct cell_err *err)
{
    mountinfo = mountinfo ? mountinfo : "/proc/self/mountinfo";
    root = root ? root : "";
    _cleanup_free_ char *text = NULL;
    int r = read_file_path(mountinfo, CG_FILE_MAX, &text, NULL);
    if (r < 0)
        return cell_err_set(err, -r, "isolation_failed", "cgroup: reading %s: %s",
                            mountinfo, strerror(-r));
    cg_layout_parse(text, root, out);
    return 0;
}

void cg_layout_parse(char *mountinfo_text, const char *root, struct cgroup_layout *out)
{
    struct mi_table t = { 0 };
    mi_parse(mountinfo_text, &t);
    struct cgroup_layout l = { 0 };
    layout_from_table(&l, &t, root);
    mi_table_done(&t);
    *out = l;
}

void cgroup_layout_describe(const struct cgroup_layout *l, struct buf *out)
{
    buf_printf(out, "%s:", cgroup_layout_kind_name(l->kind));
    for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++) {
        const struct cgroup_mount *m = &l->ctrl[c];
        if (m->version)
            buf_printf(out, " %s v%d %s%s,", cgroup_ctrl_name(c), m->version,
                       m->mount_point, m->read_only ? " (ro)" : "");
        else
            buf_printf(out, " %s absent,", cgroup_ctrl_name(c));
    }
    if (!l->v2.version) {
        buf_puts(out, " cgroup2 absent");
        return;
    }
    buf_printf(out, " cgroup2 %s (controllers:", l->v2.mount_point);
    bool any = false;
    for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++)
        if (l->v2_available & (1u << c)) {
            buf_printf(out, " %s", cgroup_ctrl_name(c));
            any = true;
        }
    buf_puts(out, any ? ")" : " none)");
}

/* ---- limits ------------------------------------------------------------------ */

void cgroup_limits_from_spec(struct cgroup_limits *out, const struct run_limits *rl)
{
    struct cgroup_limits l = { 0 };
    if (rl->has_memory_max) {
        l.has_memory = true;
        l.memory_max = rl->memory_max_bytes;
    }
    if (rl->cpu_max.present) {
        l.has_cpu = true;
        l.cpu_quota_us = rl->cpu_max.unlimited ? CGROUP_MAX : rl->cpu_max.quota_micros;
        l.cpu_period_us = rl->cpu_max.period_micros;
    }
    if (rl->has_pids_max) {
        l.has_pids = true;
        l.pids_max = rl->pids_max;
    }
    *out = l;
}

/* Copy s without leading and trailing blanks into buf; false if it does not fit. */
static bool trim_copy(const char *s, char *buf, size_t size)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (n >= size)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

int cgroup_limits_parse_memory(struct cgroup_limits *l, const char *value, struct cell_err *err)
{
    char v[32];
    uint64_t bytes;
    if (!value || !trim_copy(value, v, sizeof(v)))
        goto bad;
    if (strcmp(v, "max") == 0)
        bytes = CGROUP_MAX;
    else if (parse_u64(v, &bytes) < 0 || bytes == 0 || bytes == CGROUP_MAX)
        goto bad;
    l->has_memory = true;
    l->memory_max = bytes;
    return 0;
bad:
    return cell_err_set(err, EINVAL, "isolation_failed",
                        "CELLOS_CGROUP_MEMORY_MAX: \"%.64s\" is not a byte count or \"max\"",
                        value ? value : "");
}

int cgroup_limits_parse_cpu(struct cgroup_limits *l, const char *value, struct cell_err *err)
{
    char v[64];
    uint64_t quota, period;
    if (!value || !trim_copy(value, v, sizeof(v)))
        goto bad;
    char *sep = strpbrk(v, " \t");
    if (!sep)
        goto bad;
    *sep++ = '\0';
    while (*sep == ' ' || *sep == '\t')
        sep++;
    if (parse_u64(sep, &period) < 0 || period < 1000 || period > 1000000)
        goto bad;
    if (strcmp(v, "max") == 0)
        quota = CGROUP_MAX;
    else if (parse_u64(v, &quota) < 0 || quota < 1000 || quota == CGROUP_MAX)
        goto bad;
    l->has_cpu = true;
    l->cpu_quota_us = quota;
    l->cpu_period_us = period;
    return 0;
bad:
    return cell_err_set(err, EINVAL, "isolation_failed",
                        "CELLOS_CGROUP_CPU_MAX: \"%.64s\" is not \"<quota> <period>\" or "
                        "\"max <period>\" (microseconds, quota >= 1000, period 1000..1000000)",
                        value ? value : "");
}

void cgroup_limits_merge(struct cgroup_limits *out, const struct cgroup_limits *primary,
                         const struct cgroup_limits *fallback)
{
    struct cgroup_limits m = *primary;
    if (!m.has_memory && fallback->has_memory) {
        m.has_memory = true;
        m.memory_max = fallback->memory_max;
    }
    if (!m.has_cpu && fallback->has_cpu) {
        m.has_cpu = true;
        m.cpu_quota_us = fallback->cpu_quota_us;
        m.cpu_period_us = fallback->cpu_period_us;
    }
    if (!m.has_pids && fallback->has_pids) {
        m.has_pids = true;
        m.pids_max = fallback->pids_max;
    }
    *out = m;
}

/* ---- naming ------------------------------------------------------------------ */

static bool parent_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           strchr("._-@:+", ch) != NULL;
}

/* "a//b/" -> "a/b"; refuses ".", "..", odd characters. */
static int normalize_rel(const char *s, char **out)
{
    struct buf b = BUF_INIT;
    for (const char *p = s; *p;) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if (!len)
            break;
        bool dots = (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.');
        for (size_t i = 0; i < len && !dots; i++)
            dots = !parent_char_ok(p[i]);
        if (dots) {
            buf_free(&b);
            return -EINVAL;
        }
        if (b.len)
            buf_putc(&b, '/');
        buf_append(&b, p, len);
        p += len;
    }
    *out = b.data ? buf_steal(&b) : xstrdup("");
    return 0;
}

int cgroup_parent_resolve(const struct cgroup_layout *l, const char *parent, char **rel,
                          struct cell_err *err)
{
    if (!parent || !*parent)
        return cell_err_set(err, EINVAL, "isolation_failed", "cgroup parent: empty");
    const char *below = parent;
    if (parent[0] == '/') {
        const struct cgroup_mount *best = NULL;
        const struct cgroup_mount *cands[CGROUP_CTRL_COUNT + 1] = { &l->v2 };
        for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++)
            cands[c + 1] = &l->ctrl[c];
        for (size_t i = 0; i < ARRAY_SIZE(cands); i++)
            if (cands[i]->version && cg_path_is_under(parent, cands[i]->mount_point) &&
                (!best || strlen(cands[i]->mount_point) > strlen(best->mount_point)))
                best = cands[i];
        if (!best)
            return cell_err_set(err, EINVAL, "isolation_failed",
                                "cgroup parent %s: not under a cgroup mount", parent);
        below = parent + strlen(best->mount_point);
    }
    if (normalize_rel(below, rel) < 0)
        return cell_err_set(err, EINVAL, "isolation_failed",
                            "cgroup parent %s: only [A-Za-z0-9._@:+-] segments, no . or ..",
                            parent);
    return 0;
}

int cgroup_leaf_name(const char *cell_id, const char *uuid, char *out, size_t size)
{
    char id[SPEC_ID_MAX + 1];
    size_t n = 0;
    for (const char *p = cell_id ? cell_id : ""; *p && n < SPEC_ID_MAX; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
        id[n++] = ok ? ch : '_';
    }
    id[n] = '\0';
    int len = snprintf(out, size, "cellos_%s_%s", id, uuid);
    if (len < 0 || (size_t)len >= size)
        return -ENAMETOOLONG;
    return len;
}

static bool is_uuid(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; shape[i]; i++) {
        char ch = s[i];
        bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        if (shape[i] == '-' ? ch != '-' : !hex)
            return false;
    }
    return true;
}

bool cgroup_is_leaf_name(const char *name)
{
    size_t n = strlen(name);
    if (!str_has_prefix(name, "cellos_") || n < 7 + 1 + 36 || name[n - 37] != '_')
        return false;
    for (size_t i = 7; i < n - 37; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", name[i]))
            return false;
    return is_uuid(name + n - 36);
}

/* ---- the plan ---------------------------------------------------------------- */

void cg_plan_add(struct cg_plan_builder *b, enum cgroup_op_kind kind, unsigned flags,
                 size_t leaf, char *path, char *value)
{
    struct cgroup_plan *p = b->p;
    if (p->n_ops == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        p->ops = xrealloc(p->ops, b->cap * sizeof(*p->ops));
    }
    p->ops[p->n_ops++] = (struct cgroup_op){ kind, flags, leaf, path, value };
}

char *cg_limit_str(uint64_t v, const char *max_word)
{
    return v == CGROUP_MAX ? xstrdup(max_word) : xasprintf("%" PRIu64, v);
}

/* Which controllers a limit asks for (a "max" limit asks for nothing the
 * host must have: it is the default). */
static unsigned limits_needing(const struct cgroup_limits *lim)
{
    unsigned m = 0;
    if (lim->has_memory && lim->memory_max != CGROUP_MAX)
        m |= 1u << CGROUP_MEMORY;
    if (lim->has_cpu && lim->cpu_quota_us != CGROUP_MAX)
        m |= 1u << CGROUP_CPU;
    if (lim->has_pids && lim->pids_max != CGROUP_MAX)
        m |= 1u << CGROUP_PIDS;
    return m;
}

static unsigned limits_present(const struct cgroup_limits *lim)
{
    return (lim->has_memory ? 1u << CGROUP_MEMORY : 0) | (lim->has_cpu ? 1u << CGROUP_CPU : 0) |
           (lim->has_pids ? 1u << CGROUP_PIDS : 0);
}

/* One leaf per hierarchy: the cgroup2 mount first, then the v1 hierarchies
 * of memory, cpu, pids (deduplicated: cpu,cpuacct,memory may share one) and,
 * on pure v1 only, the freezer (on hybrid and v2, cgroup.kill does its job). */
static void plan_leaves(const struct cgroup_layout *l, const struct cgroup_limits *lim,
                        struct cgroup_plan *p)
{
    unsigned present = limits_present(lim);
    if (l->v2.version) {
        unsigned ctrls = 0;
        for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++)
            if (l->ctrl[c].version == 2)
                ctrls |= 1u << c;
        p->leaves[p->n_leaves++] = (struct cgroup_leaf_plan){
            .version = 2, .ctrls = ctrls, .required = (ctrls & present) != 0,
            .mount = xstrdup(l->v2.path) };
    }
    for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++) {
        const struct cgroup_mount *m = &l->ctrl[c];
        if (m->version != 1 || (c == CGROUP_FREEZER && l->v2.version))
            continue;
        /* On a host with a cgroup2 mount (whose leaf tracks and kills the
         * cell), a v1 hierarchy whose controller carries no limit gets no
         * leaf: each costs a mkdir, a join and an rmdir on every cold start.
         * Pure v1 keeps them all: there they are how the cell is tracked. */
        if (l->v2.version && !(present & (1u << c)))
            continue;
        size_t i = 0;
        while (i < p->n_leaves && strcmp(p->leaves[i].mount, m->path) != 0)
            i++;
        if (i == p->n_leaves)
            p->leaves[p->n_leaves++] = (struct cgroup_leaf_plan){
                .version = 1, .mount = xstrdup(m->path) };
        p->leaves[i].ctrls |= 1u << c;
        p->leaves[i].required |= (present & (1u << c)) != 0;
    }
}

/* mkdir -p of the parent; on v2 "+ctrl" into each subtree_control from the
 * mount root down to the parent, so the leaf gets the controllers. */
static void plan_chain(struct cg_plan_builder *b, size_t leaf, const char *rel,
                       unsigned needed, unsigned base_flags)
{
    const struct cgroup_leaf_plan *lp = &b->p->leaves[leaf];
    struct buf dir = BUF_INIT;
    buf_puts(&dir, lp->mount);
    for (const char *p = rel;;) {
        for (size_t c = 0; lp->version == 2 && c < CGROUP_CTRL_COUNT; c++)
            if (lp->ctrls & (1u << c))
                cg_plan_add(b, CGROUP_OP_WRITE,
                            base_flags | ((needed & (1u << c)) ? 0 : CGROUP_OP_BEST_EFFORT),
                            leaf, xasprintf("%s/cgroup.subtree_control", dir.data),
                            xasprintf("+%s", cgroup_ctrl_name(c)));
        if (!*p)
            break;
        size_t len = strcspn(p, "/");
        buf_putc(&dir, '/');
        buf_append(&dir, p, len);
        cg_plan_add(b, CGROUP_OP_MKDIR, base_flags | CGROUP_OP_EXIST_OK, leaf,
                    xstrdup(dir.data), NULL);
        p += len;
        p += *p == '/';
    }
    buf_free(&dir);
}

static int plan_check_controllers(const struct cgroup_layout *l, unsigned needed,
                                  struct cell_err *err)
{
    for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++)
        if ((needed & (1u << c)) && !l->ctrl[c].version)
            return cell_err_set(err, EOPNOTSUPP, "isolation_failed",
                                "cgroup: a %s limit is asked for but this host (%s layout) "
                                "has no %s controller", cgroup_ctrl_name(c),
                                cgroup_layout_kind_name(l->kind), cgroup_ctrl_name(c));
    return 0;
}

int cgroup_plan_build(const struct cgroup_layout *l, const char *parent_rel,
                      const char *leaf_name, const struct cgroup_limits *lim,
                      struct cgroup_plan *out, struct cell_err *err)
{
    unsigned needed = limits_needing(lim);
    parent_rel = parent_rel ? parent_rel : "";
    int r = plan_check_controllers(l, needed, err);
    if (r < 0)
        return r;
    struct cgroup_plan p = { .leaf_name = xstrdup(leaf_name) };
    struct cg_plan_builder b = { &p, 0 };
    plan_leaves(l, lim, &p);
    /* A best-effort hierarchy on a read-only mount is not worth a try. */
    size_t w = 0;
    for (size_t i = 0; i < p.n_leaves; i++) {
        bool ro = false;
        for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++)
            ro |= l->ctrl[c].version && l->ctrl[c].read_only &&
                  strcmp(l->ctrl[c].path, p.leaves[i].mount) == 0;
        ro |= l->v2.version && l->v2.read_only && strcmp(l->v2.path, p.leaves[i].mount) == 0;
        if (ro && !p.leaves[i].required)
            free(p.leaves[i].mount);
        else
            p.leaves[w++] = p.leaves[i];
    }
    p.n_leaves = w;
    if (!p.n_leaves) {
        cgroup_plan_done(&p);
        return cell_err_set(err, ENODEV, "isolation_failed",
                            "cgroup: no writable cgroup hierarchy on this host");
    }
    for (size_t i = 0; i < p.n_leaves; i++) {
        struct cgroup_leaf_plan *lp = &p.leaves[i];
        lp->path = *parent_rel ? xasprintf("%s/%s/%s", lp->mount, parent_rel, leaf_name)
                               : xasprintf("%s/%s", lp->mount, leaf_name);
        plan_chain(&b, i, parent_rel, needed & lp->ctrls, 0);
        cg_plan_add(&b, CGROUP_OP_MKDIR, CGROUP_OP_LEAF, i, xstrdup(lp->path), NULL);
        if (lp->version == 2)
            cg2_plan_limits(&b, i, lp->path, lp->ctrls, lim, 0);
        else
            cg1_plan_limits(&b, i, lp->path, lp->ctrls, lim, 0);
    }
    *out = p;
    return 0;
}

void cgroup_plan_format(const struct cgroup_plan *p, struct buf *out)
{
    for (size_t i = 0; i < p->n_ops; i++) {
        const struct cgroup_op *op = &p->ops[i];
        if (op->kind == CGROUP_OP_MKDIR)
            buf_printf(out, "mkdir %s", op->path);
        else
            buf_printf(out, "write %s = %s", op->path, op->value);
        if (op->flags & CGROUP_OP_EXIST_OK)
            buf_puts(out, " (may exist)");
        if (op->flags & CGROUP_OP_IF_EXISTS)
            buf_puts(out, " (if present)");
        if ((op->flags & CGROUP_OP_BEST_EFFORT) || !p->leaves[op->leaf].required)
            buf_puts(out, " (best effort)");
        buf_putc(out, '\n');
    }
}

void cgroup_plan_done(struct cgroup_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_ops; i++) {
        free(p->ops[i].path);
        free(p->ops[i].value);
    }
    free(p->ops);
    for (size_t i = 0; i < p->n_leaves; i++) {
        free(p->leaves[i].mount);
        free(p->leaves[i].path);
    }
    free(p->leaf_name);
    *p = (struct cgroup_plan){ 0 };
}
