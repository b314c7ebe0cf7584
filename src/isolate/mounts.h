/* mounts.h: the cell's private filesystem view, as a plan the parent builds
 * (pure data, printable by `cellos plan`) and the child applies.
 *
 * The view: a fresh tmpfs becomes the root; every top-level entry of the
 * host's / is bind-mounted into it read-only (nosuid, nodev), except those
 * the cell gets fresh: /proc (its own), /sys (its own, read-only, so
 * /sys/class/net shows the cell's interfaces), /dev (null, zero, full, random,
 * urandom, tty, pts, shm only), /tmp and /run (private tmpfs), and the
 * workspace at run.workingDirectory (private tmpfs owned by the workload's
 * user). /run is fresh rather than bound because a read-only bind still lets
 * a process connect() to the host's sockets under it. */
#pragma once
#include <sys/types.h>

#include "base/base.h"
#include "base/buf.h"

enum mount_op {
    MOP_MKDIR,      /* mkdir -p target, mode */
    MOP_BIND_RO,    /* recursive bind of source, then read-only, nosuid, nodev */
    MOP_BIND_HOST,  /* recursive bind of a host entry; made read-only by the next SEAL */
    MOP_SEAL_RO,    /* everything mounted so far: read-only, nosuid, nodev, recursively */
    MOP_BIND_DEV,   /* bind a host device node onto a created file */
    MOP_TMPFS,      /* tmpfs with mode, uid, gid */
    MOP_PROC,       /* a new proc instance */
    MOP_DEVPTS,     /* a new devpts instance */
    MOP_SYSFS,      /* a new sysfs instance, read-only (reflects the cell's netns) */
    MOP_SYMLINK,    /* symlink source -> target */
    MOP_FILE,       /* an empty file as a bind target */
    MOP_WRITE_FILE, /* write a small file (e.g. resolv.conf) */
};

struct mount_step {
    enum mount_op op;
    char *source;
    char *target;   /* absolute path inside the cell */
    mode_t mode;
    uid_t uid;
    gid_t gid;
    char *data;     /* MOP_WRITE_FILE contents */
};

struct mount_plan {
    struct mount_step *steps;
    size_t n;
    char *staging;          /* where the new root is assembled (a host path that exists) */
};

struct mount_opts {
    const char *workspace;  /* run.workingDirectory or NULL */
    uid_t uid;              /* the workload's user: owns workspace, /tmp files, secrets */
    gid_t gid;
    bool own_proc;          /* a pid namespace: mount a new /proc */
    const char *secrets_dir;/* in-cell tmpfs for runtimeBroker secrets, or NULL */
    const char *resolv_conf;/* contents for /etc/resolv.conf, or NULL to keep the host's */
};

/* Lists host_root's top-level entries (host_root is "/" except in tests). */
int mount_plan_build(const char *host_root, const struct mount_opts *opts, struct mount_plan *out,
                     struct cell_err *err);
void mount_plan_free(struct mount_plan *plan);
void mount_plan_format(const struct mount_plan *plan, struct buf *out);

/* Child side, in a new mount namespace: apply the plan and pivot into it.
 * On failure returns -errno and points *failed at the step. */
int mount_plan_apply(const struct mount_plan *plan, const struct mount_step **failed);
