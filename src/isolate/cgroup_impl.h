/* cgroup_impl.h: private to cgroup.c, cgroup_v1.c and cgroup_v2.c. */
#pragma once
#include "cgroup.h"

#define CG_MAX_DEPTH 32            /* walks below a mount or a leaf stop here */
#define CG_FILE_MAX (4u << 20)     /* cgroup.procs of a large cell stays far below */

enum cg_leaf_state { LEAF_PLANNED, LEAF_MADE, LEAF_DROPPED, LEAF_REMOVED };

struct cg_leaf {
    int version;
    unsigned ctrls;
    bool required;
    enum cg_leaf_state state;
    char *path;
    int dir_fd;   /* flock(LOCK_EX) held: the owner is alive */
    int procs_fd; /* cgroup.procs, O_WRONLY */
    int tasks_fd; /* v1 only: tasks, O_WRONLY, for the child's own join (see open_procs) */
};

struct cgroup {
    char *name;
    struct cg_leaf leaves[CGROUP_MAX_LEAVES];
    size_t n;
};

/* Building a plan: ops are appended; path and value are taken over. */
struct cg_plan_builder {
    struct cgroup_plan *p;
    size_t cap;
};
void cg_plan_add(struct cg_plan_builder *b, enum cgroup_op_kind kind, unsigned flags,
                 size_t leaf, char *path, char *value);
/* "max" or the decimal value. */
char *cg_limit_str(uint64_t v, const char *max_word);

/* v2 and v1 specifics: the limit writes into a leaf. */
void cg2_plan_limits(struct cg_plan_builder *b, size_t leaf, const char *leaf_path,
                     unsigned ctrls, const struct cgroup_limits *lim, unsigned flags);
void cg1_plan_limits(struct cg_plan_builder *b, size_t leaf, const char *leaf_path,
                     unsigned ctrls, const struct cgroup_limits *lim, unsigned flags);

/* Files. */
int cg_write_file(const char *path, const char *value);
int cg_write_at(const char *dir, const char *file, const char *value);
int cg_read_at(const char *dir, const char *file, char **out);
/* The number after `key ` in a "key value" per line file (memory.events ...). */
int cg_keyed_u64(const char *text, const char *key, uint64_t *out);

/* A set of pids, sorted and unique after cg_pids_finish(). */
struct cg_pids {
    pid_t *v;
    size_t n, cap;
};
/* Append the pids of dir/cgroup.procs and of every cgroup below dir. A
 * missing dir adds nothing. */
int cg_tree_pids(const char *dir, struct cg_pids *ps);
void cg_pids_finish(struct cg_pids *ps);
/* Signal each; returns how many kill() accepted. */
int cg_pids_signal(const struct cg_pids *ps, int sig);
/* rmdir the cgroups below dir, then dir. A missing dir is success. */
int cg_tree_rmdir(const char *dir);
void cg_sleep_ms(unsigned ms);

/* Kill helpers: 0 when done, -EOPNOTSUPP when the leaf lacks the file. */
int cg2_kill_file(const char *leaf_path);
int cg2_freeze(const char *leaf_path, bool frozen, uint64_t deadline_ms);
int cg1_freeze(const char *leaf_path, bool frozen, uint64_t deadline_ms);
int cg2_oom_killed(const char *leaf_path, bool *killed);
int cg1_oom_killed(const char *leaf_path, bool *killed);

/* The lifecycle's shared steps (cgroup.c), reused by reconcile (cgroup_v2.c). */
int cg_kill_leaves(struct cgroup *c, uint64_t timeout_ms, struct cell_err *err);
int cg_remove_leaves(struct cgroup *c, uint64_t deadline_ms, struct cgroup_paths *residue);
void cg_paths_add(struct cgroup_paths *p, const char *path);
/* Open dir and take its owner lock; -EWOULDBLOCK when a live owner holds it. */
int cg_lock_dir(const char *path, bool wait, int *fd_out);
/* path equals dir or lies below it. */
bool cg_path_is_under(const char *path, const char *dir);
/* A directory entry naming a subdirectory (not . or ..). */
struct dirent;
bool cg_entry_is_dir(const char *dir, const struct dirent *de);
/* cgroup_layout_detect on text already read (modified in place); for fuzzing. */
void cg_layout_parse(char *mountinfo_text, const char *root, struct cgroup_layout *out);
