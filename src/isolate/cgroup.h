/* cgroup.h: the cell's cgroup leaves on pure v2, hybrid and pure v1 hosts.
 *
 * The flow, from inert data to the host and back (docs/cgroups.md):
 *
 *   cgroup_layout_detect()   mountinfo -> which hierarchy holds which controller
 *   cgroup_limits_*()        spec limits + CELLOS_CGROUP_* overrides -> struct cgroup_limits
 *   cgroup_parent_resolve()  CELLOS_CGROUP_PARENT -> a parent path relative to each mount
 *   cgroup_plan_build()      pure: the directories to make and the files to write
 *   cgroup_create()          runs the plan -> struct cgroup (leaves, fds, owner locks)
 *   cgroup_child_join()      in the workload, between clone and exec
 *   cgroup_kill()            kill everything in the leaves and wait until they are empty
 *   cgroup_oom_killed()      did the OOM killer kill anything in the memory leaf?
 *   cgroup_destroy()         kill, rmdir every leaf, report what is left (residue)
 *   cgroup_reconcile()       remove leaves whose supervisor died
 *
 * One leaf, named cellos_<sanitized id>_<uuid>, is made in every hierarchy
 * that matters: the cgroup2 mount when there is one (even the controller-less
 * "unified" mount of a hybrid host, for cgroup.kill and CLONE_INTO_CGROUP),
 * each v1 hierarchy holding memory, cpu or pids, and on pure v1 the freezer.
 *
 * A live supervisor holds flock(LOCK_EX) on every leaf directory it made;
 * reconcile only touches leaves whose lock it can take, so it never kills a
 * running cell. Nothing here logs: errors come back as -errno + cell_err. */
#pragma once
#include <sys/types.h>

#include "base/base.h"
#include "base/buf.h"

#define CGROUP_DEFAULT_PARENT "cellos" /* a suggestion; the caller decides */
#define CGROUP_MAX_LEAVES 5            /* cgroup2 + memory, cpu, pids, freezer */
#define CGROUP_LEAF_NAME_MAX 192       /* "cellos_" + 128 + "_" + 36 + NUL fits */
#define CGROUP_KILL_TIMEOUT_MS 5000    /* a reasonable default for kill/destroy */

enum cgroup_layout_kind {
    CGROUP_LAYOUT_NONE,   /* no usable cgroup mount */
    CGROUP_LAYOUT_V1,     /* v1 controller hierarchies only */
    CGROUP_LAYOUT_HYBRID, /* v1 controller hierarchies and a cgroup2 mount */
    CGROUP_LAYOUT_V2,     /* a cgroup2 mount and no v1 controller hierarchy */
};

/* The controllers cellos uses. FREEZER is only ever a v1 hierarchy: on v2
 * freezing is core (cgroup.freeze), not a controller. */
enum cgroup_ctrl { CGROUP_MEMORY, CGROUP_CPU, CGROUP_PIDS, CGROUP_FREEZER, CGROUP_CTRL_COUNT };

struct cgroup_mount {
    int version;       /* 1 or 2; 0 when absent */
    char *mount_point; /* as mountinfo says, e.g. /sys/fs/cgroup/memory */
    char *path;        /* root prefix + mount_point: where the files are */
    bool read_only;
};

struct cgroup_layout {
    enum cgroup_layout_kind kind;
    struct cgroup_mount v2;                    /* the cgroup2 mount (version 0: none) */
    struct cgroup_mount ctrl[CGROUP_CTRL_COUNT]; /* where each controller lives */
    unsigned v2_available; /* 1u << ctrl for each listed in the v2 root's cgroup.controllers */
};

/* Read mountinfo (NULL: /proc/self/mountinfo) and the cgroup2 root's
 * cgroup.controllers under root (NULL or "": the real /). root is prepended
 * to every mount point, so tests can point detection at a fake tree. A host
 * without cgroups is not an error: kind is CGROUP_LAYOUT_NONE. */
int cgroup_layout_detect(struct cgroup_layout *out, const char *mountinfo,
                         const char *root, struct cell_err *err);
void cgroup_layout_done(struct cgroup_layout *l);
const char *cgroup_layout_kind_name(enum cgroup_layout_kind k); /* "v2", "hybrid", ... */
const char *cgroup_ctrl_name(enum cgroup_ctrl c);               /* "memory", ... */
/* One line for `cellos probe`, e.g. "hybrid: memory v1 /sys/fs/cgroup/memory,
 * cpu v1 ..., cgroup2 /sys/fs/cgroup/unified (controllers: none)". */
void cgroup_layout_describe(const struct cgroup_layout *l, struct buf *out);
/* `cellos probe`: this host's layout (the struct holds, per controller, the
 * version and mount; cgroup_layout_kind_name() the layout's name). */
static inline int cgroup_probe(struct cgroup_layout *out, struct cell_err *err)
{
    return cgroup_layout_detect(out, NULL, NULL, err);
}

/* ---- limits: inert data ------------------------------------------------ */

#define CGROUP_MAX UINT64_MAX /* the value "max": explicitly unlimited */

struct cgroup_limits {
    bool has_memory;
    uint64_t memory_max;    /* bytes, or CGROUP_MAX */
    bool has_cpu;
    uint64_t cpu_quota_us;  /* or CGROUP_MAX */
    uint64_t cpu_period_us;
    bool has_pids;
    uint64_t pids_max;      /* or CGROUP_MAX */
};

struct run_limits; /* spec/spec.h */
/* run.limits of the spec as cgroup limits (absent fields stay unset). */
void cgroup_limits_from_spec(struct cgroup_limits *out, const struct run_limits *rl);
/* CELLOS_CGROUP_MEMORY_MAX: decimal bytes (> 0) or "max", surrounding blanks
 * ignored. Sets the memory field of *l; -EINVAL + err when malformed (the
 * caller warns and goes on), *l untouched. */
int cgroup_limits_parse_memory(struct cgroup_limits *l, const char *value, struct cell_err *err);
/* CELLOS_CGROUP_CPU_MAX: "<quota> <period>" or "max <period>" in microseconds,
 * quota >= 1000, period 1000..1000000 (the kernel's bounds). As above. */
int cgroup_limits_parse_cpu(struct cgroup_limits *l, const char *value, struct cell_err *err);
/* Field by field: what primary sets wins, fallback fills what it leaves unset. */
void cgroup_limits_merge(struct cgroup_limits *out, const struct cgroup_limits *primary,
                         const struct cgroup_limits *fallback);

/* ---- naming ------------------------------------------------------------- */

/* CELLOS_CGROUP_PARENT -> a normalized path relative to every mount ("" is
 * the mount root itself). A relative name ("cellos", "a/b") is taken from
 * each hierarchy's root. An absolute path must lie under a cgroup mount
 * point (v2 or v1): the part below the mount point is then used in every
 * hierarchy. "..", "." and odd characters are refused. */
int cgroup_parent_resolve(const struct cgroup_layout *l, const char *parent, char **rel,
                          struct cell_err *err);
/* "cellos_<id>_<uuid>": id characters outside [A-Za-z0-9._-] become '_', id
 * truncated to 128. Returns the length, or -ENAMETOOLONG if size is short. */
int cgroup_leaf_name(const char *cell_id, const char *uuid, char *out, size_t size);
/* Whether name has the shape of a leaf cellos made (prefix and UUID suffix). */
bool cgroup_is_leaf_name(const char *name);

/* ---- the plan: pure ------------------------------------------------------ */

enum cgroup_op_kind { CGROUP_OP_MKDIR, CGROUP_OP_WRITE };
enum {
    CGROUP_OP_EXIST_OK = 1u << 0,    /* mkdir: an existing directory is fine (parents) */
    CGROUP_OP_IF_EXISTS = 1u << 1,   /* write: skip when the file does not exist */
    CGROUP_OP_BEST_EFFORT = 1u << 2, /* failure is not an error */
    CGROUP_OP_LEAF = 1u << 3,        /* mkdir of the leaf itself */
};

struct cgroup_op {
    enum cgroup_op_kind kind;
    unsigned flags;
    size_t leaf;  /* index into cgroup_plan.leaves this op serves */
    char *path;
    char *value;  /* WRITE only */
};

struct cgroup_leaf_plan {
    int version;    /* 1 or 2 */
    unsigned ctrls; /* 1u << enum cgroup_ctrl carried for cellos in this hierarchy */
    bool required;  /* holds a limit: failing to make it fails the cell */
    char *mount;    /* mount path */
    char *path;     /* the leaf directory */
};

struct cgroup_plan {
    char *leaf_name;
    struct cgroup_leaf_plan leaves[CGROUP_MAX_LEAVES];
    size_t n_leaves;
    struct cgroup_op *ops; /* in execution order */
    size_t n_ops;
};

/* Map limits onto the layout, leaves named leaf_name under parent_rel (from
 * cgroup_parent_resolve; NULL or "" = the mount roots). Each hierarchy's
 * ops are: mkdir of the parent chain, the leaf mkdir, the limit writes.
 * v2: "+ctrl" into cgroup.subtree_control from
 * the mount root down to the parent, memory.max (+ memory.swap.max 0),
 * cpu.max, pids.max. v1: memory.limit_in_bytes (+ memsw equal), cpu period
 * then quota, pids.max. -EOPNOTSUPP + err when a limit needs a controller
 * the host lacks; -ENODEV when there is no cgroup mount at all. */
int cgroup_plan_build(const struct cgroup_layout *l, const char *parent_rel,
                      const char *leaf_name, const struct cgroup_limits *lim,
                      struct cgroup_plan *out, struct cell_err *err);
/* One line per op: "mkdir PATH" / "write PATH = VALUE" (+ " (if present)" ...). */
void cgroup_plan_format(const struct cgroup_plan *p, struct buf *out);
void cgroup_plan_done(struct cgroup_plan *p);

/* ---- the live cgroup --------------------------------------------------- */

struct cgroup; /* opaque: the leaves made, their fds and owner locks */

/* Run the plan. Best-effort leaves that fail are dropped; a required one
 * failing, or no leaf at all, undoes everything and returns the error. */
int cgroup_create(const struct cgroup_plan *p, struct cgroup **out, struct cell_err *err);
/* detect-free convenience: resolve parent, name the leaf (uuid NULL: a fresh
 * one), plan and create. */
int cgroup_setup(const struct cgroup_layout *l, const char *parent, const char *cell_id,
                 const char *uuid, const struct cgroup_limits *lim, struct cgroup **out,
                 struct cell_err *err);

const char *cgroup_name(const struct cgroup *c);         /* the leaf name */
/* The leaf that best names the cell (the v2 leaf when it holds controllers,
 * else the memory leaf, else the first), for the started event. */
const char *cgroup_primary_path(const struct cgroup *c);
/* The i-th leaf directory made, NULL past the end. */
const char *cgroup_leaf_path(const struct cgroup *c, size_t i);

/* What the workload's child needs between clone and exec. The parent fills it
 * (cgroup_child_attach_info) before cloning; all fds are O_CLOEXEC and owned
 * by the struct cgroup (the parent must not close them).
 *
 * Contract for the child (which must have its own fd table: no CLONE_FILES):
 * pass clone_fd to clone3() with CLONE_INTO_CGROUP when it is >= 0; then,
 * first thing in the child (before dropping privileges, capabilities or
 * entering a user namespace, and before exec), call
 * cgroup_child_join(&a, cloned_into). It writes "0" (= this process) to each
 * v1 leaf's cgroup.procs and, when cloned_into is false, to the v2 leaf's,
 * then closes the child's copies of every fd listed here: a copy of a leaf
 * directory fd would keep the supervisor's owner lock alive in a workload
 * that never execs, and reconcile would then take a dead supervisor's cell
 * for a live one. Async-signal-safe: write(2) and close(2) only, no
 * allocation, errno clobbered. On failure it returns -errno of the first
 * failing write (the fds are closed all the same); the child must then
 * report it and _exit: a workload outside its leaves escapes its limits. */
struct cgroup_child_attach {
    int clone_fd;     /* v2 leaf directory, O_RDONLY|O_DIRECTORY; -1 when none */
    int v2_procs_fd;  /* v2 leaf cgroup.procs, O_WRONLY; -1 when none */
    int v1_procs_fd[CGROUP_MAX_LEAVES]; /* v1 leaves' `tasks` (see cgroup_v2.c open_procs) */
    size_t n_v1;
    int lock_fd[CGROUP_MAX_LEAVES]; /* every leaf directory (clone_fd among them) */
    size_t n_lock;
};
void cgroup_child_attach_info(const struct cgroup *c, struct cgroup_child_attach *a);
int cgroup_child_join(const struct cgroup_child_attach *a, bool cloned_into);
/* Only the closing part of cgroup_child_join, for any other process forked
 * from the supervisor that will not exec (async-signal-safe). */
void cgroup_child_release(const struct cgroup_child_attach *a);

/* Parent side, for a child that could not join itself: move pid into every leaf. */
int cgroup_attach_pid(struct cgroup *c, pid_t pid, struct cell_err *err);
/* Send sig to every process in the leaves once (e.g. SIGTERM for a graceful
 * stop). Returns how many were signalled. */
int cgroup_signal(struct cgroup *c, int sig);
/* SIGKILL everything in the leaves (and cgroups below them) and wait until
 * they are empty: cgroup.kill where a v2 leaf has it, else freeze (v2
 * cgroup.freeze or the v1 freezer), SIGKILL every pid, thaw, else a SIGKILL
 * loop. -ETIMEDOUT when still populated after timeout_ms. */
int cgroup_kill(struct cgroup *c, uint64_t timeout_ms, struct cell_err *err);
/* Whether the OOM killer killed anything in the leaf: v2 memory.events
 * oom_kill; v1 memory.oom_control oom_kill (4.13+), else memory.failcnt > 0
 * (the limit was hit; an approximation). -ENODATA when no leaf holds memory.
 * Call before destroy. */
int cgroup_oom_killed(const struct cgroup *c, bool *killed);

/* A list of paths (residue, reconcile results). */
struct cgroup_paths {
    char **v;
    size_t n;
};
void cgroup_paths_done(struct cgroup_paths *p);

/* Kill and wait (timeout_ms), then rmdir every leaf (sub-cgroups first),
 * close the fds and drop the locks. Idempotent. Appends to *residue (may be
 * NULL) every directory that could not be removed and returns their count. */
int cgroup_destroy(struct cgroup *c, uint64_t timeout_ms, struct cgroup_paths *residue);
/* Free memory and fds. Does not remove leaves: a cgroup freed without
 * cgroup_destroy is left for cgroup_reconcile (its lock is gone). NULL ok. */
void cgroup_free(struct cgroup *c);
static inline void cgroup_freep(struct cgroup **c) { cgroup_free(*c); }
#define _cleanup_cgroup_ _cleanup_(cgroup_freep)

/* ---- reconcile ------------------------------------------------------------ */

/* Leaves (cgroup_is_leaf_name) with no live owner (their flock can be taken),
 * in every hierarchy of the layout: under parent_rel only (its direct
 * children) when given, else anywhere in the hierarchy (depth <= 32). */
int cgroup_find_orphans(const struct cgroup_layout *l, const char *parent_rel,
                        struct cgroup_paths *out);
/* Find the orphans, kill their processes (timeout_ms each), remove them.
 * Appends removed and not-removable paths; returns how many were removed.
 * Idempotent. Parents are never removed. */
int cgroup_reconcile(const struct cgroup_layout *l, const char *parent_rel,
                     uint64_t timeout_ms, struct cgroup_paths *removed,
                     struct cgroup_paths *residue);
