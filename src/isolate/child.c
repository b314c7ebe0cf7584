#include "child.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>

#include "base/strtab.h"
#include "isolate/cgroup.h"
#include "isolate/mounts.h"
#include "isolate/seccomp.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static const struct strtab_entry step_names[] = {
    { CHILD_STEP_SIGNALS, "reset signals" },
    { CHILD_STEP_SESSION, "start a session" },
    { CHILD_STEP_CGROUP, "join the cgroup" },
    { CHILD_STEP_NETNS, "join the cell's network namespace" },
    { CHILD_STEP_MOUNTS, "build the private mount tree" },
    { CHILD_STEP_HOSTNAME, "set the hostname" },
    { CHILD_STEP_SECRETS, "write secret files" },
    { CHILD_STEP_INIT, "start the namespace's init" },
    { CHILD_STEP_CAPS, "drop capabilities" },
    { CHILD_STEP_USER, "switch user" },
    { CHILD_STEP_CWD, "enter the working directory" },
    { CHILD_STEP_FDS, "close inherited descriptors" },
    { CHILD_STEP_WAIT_PARENT, "wait for the network policy" },
    { CHILD_STEP_SECCOMP, "install the seccomp filter" },
    { CHILD_STEP_EXEC, "execute" },
};

const char *child_step_name(enum child_step step)
{
    const char *name = strtab_name(step_names, ARRAY_SIZE(step_names), (int)step);
    return name ? name : "prepare";
}

int child_exec_exit_status(int errnum)
{
    return errnum == ENOENT || errnum == ENOTDIR ? 127 : 126;
}

static void copy_detail(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < size; i++)
        dst[i] = src[i];
    dst[i] = '\0';
}

static _Noreturn void fail(const struct child_plan *plan, enum child_step step, int errnum,
                           const char *detail)
{
    struct child_error e = { .step = (int32_t)step, .errnum = errnum };
    copy_detail(e.detail, sizeof(e.detail), detail);
    (void)!write(plan->err_fd, &e, sizeof(e));
    _exit(127);
}

/* ---- cell setup (in the first child; PID 1 with a pid namespace) ---- */

/* The supervisor blocks signals for its signalfd and ignores SIGPIPE: both
 * would be inherited through execve (handlers are reset by exec itself, but
 * ignored signals and the mask are not). SIGPIPE is the only signal the
 * supervisor ignores. */
static int step_signals(const struct child_plan *plan, const char **detail)
{
    sigset_t none;
    sigemptyset(&none);
    signal(SIGPIPE, SIG_DFL);
    return sigprocmask(SIG_SETMASK, &none, NULL) < 0 ? -errno : 0;
}

/* A session of its own: no controlling terminal, so no TIOCSTI into the
 * caller's terminal, and a process group the supervisor can signal. */
static int step_session(const struct child_plan *plan, const char **detail)
{
    if (setsid() < 0)
        return -errno;
    /* If the supervisor dies (even by SIGKILL) the cell dies with it; as a
     * pid-ns init this takes the whole namespace down. */
    return prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ? -errno : 0;
}

static int step_cgroup(const struct child_plan *plan, const char **detail)
{
    return plan->cgroup ? cgroup_child_join(plan->cgroup, plan->cgroup_cloned_into) : 0;
}

static int step_mounts(const struct child_plan *plan, const char **detail)
{
    if (!plan->mounts)
        return 0;
    const struct mount_step *failed = NULL;
    int r = mount_plan_apply(plan->mounts, &failed);
    if (r < 0 && failed)
        *detail = failed->target;
    return r;
}

static int step_hostname(const struct child_plan *plan, const char **detail)
{
    if (!plan->hostname)
        return 0;
    size_t len = strnlen(plan->hostname, 64);
    return sethostname(plan->hostname, len) < 0 ? -errno : 0;
}

/* Before the mounts: a sysfs mounted later shows the netns of whoever
 * mounts it. The descriptor is CLOEXEC, so nothing of it reaches exec. */
static int step_netns(const struct child_plan *plan, const char **detail)
{
    if (!plan->join_netns)
        return 0;
    return setns(plan->netns_fd, CLONE_NEWNET) < 0 ? -errno : 0;
}

/* The network helper may still be applying the cell's firewall (the
 * parent collects its result) while we wait here, as late as possible so
 * that the mounts, secrets, init, capabilities and user switch overlap it;
 * but before the seccomp filter, which (a raw BPF profile) might deny the
 * read. Nothing the workload runs may precede the policy. EOF without the
 * byte means the parent gave up. */
static int step_wait_parent(const struct child_plan *plan, const char **detail)
{
    if (plan->sync_fd < 0)
        return 0;
    char go;
    ssize_t n;
    do
        n = read(plan->sync_fd, &go, 1);
    while (n < 0 && errno == EINTR);
    int r = n == 1 ? 0 : n == 0 ? -ECANCELED : -errno;
    close(plan->sync_fd);
    return r;
}

/* runtimeBroker: one 0400 file per secret on the cell's private tmpfs,
 * owned by the workload's user. */
static int step_secrets(const struct child_plan *plan, const char **detail)
{
    if (!plan->secrets_dir)
        return 0;
    int dir = open(plan->secrets_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (dir < 0) {
        *detail = plan->secrets_dir;
        return -errno;
    }
    int r = 0;
    for (size_t i = 0; i < plan->n_secret_files && r == 0; i++) {
        const struct child_secret_file *s = &plan->secret_files[i];
        *detail = s->name;
        int fd = openat(dir, s->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
        if (fd < 0) {
            r = -errno;
            break;
        }
        if (write_all(fd, s->value, s->len) < 0 ||
            (plan->set_user && fchown(fd, plan->uid, plan->gid) < 0))
            r = -errno;
        close(fd);
    }
    close(dir);
    return r;
}

/* ---- PID 1 of the cell's pid namespace ---- */

static volatile sig_atomic_t pending_stop;

static void remember_stop(int sig) { pending_stop = sig; }

/* Signals from the parent namespace reach PID 1 only when it has a handler:
 * install one for the stop signals and forward them to the workload. */
static _Noreturn void run_init(const struct child_plan *plan, pid_t workload)
{
    static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
    struct sigaction sa = { .sa_handler = remember_stop };
    for (size_t i = 0; i < ARRAY_SIZE(stop_signals); i++)
        sigaction(stop_signals[i], &sa, NULL);
    close(plan->err_fd); /* the workload holds the copy that matters now */
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0 && errno == EINTR) {
            if (pending_stop)
                kill(workload, pending_stop);
            pending_stop = 0;
            continue;
        }
        if (pid == workload || pid < 0) {
            int32_t report = pid == workload ? status : (int32_t)(SIGKILL);
            (void)!write(plan->status_fd, &report, sizeof(report));
            _exit(0); /* the kernel now kills the rest of the namespace */
        }
    }
}

static void run_steps(const struct child_plan *plan, int first, int end);

#if defined(__SANITIZE_ADDRESS__)
#define CELLOS_VFORK_WORKLOAD 0 /* ASan cannot follow a CLONE_VM child on its own stack */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CELLOS_VFORK_WORKLOAD 0
#endif
#endif
#ifndef CELLOS_VFORK_WORKLOAD
#define CELLOS_VFORK_WORKLOAD 1
#endif

/* The workload's half of the checklist. With CLONE_VM|CLONE_VFORK it runs
 * in init's memory on a stack of its own until execve: it only makes system
 * calls (no allocation, no locks) and never returns into init's frames. */
static int workload_entry(void *arg)
{
    const struct child_plan *plan = arg;
    close(plan->status_fd); /* only init reports */
    run_steps(plan, CHILD_STEP_INIT + 1, CHILD_STEP__COUNT);
    _exit(127);
}

/* Why not fork(): the cell's PID 1 is a copy of the supervisor, and copying
 * its page tables for a child that execs at once costs about a millisecond
 * of every cold start. The vfork-style child shares them instead; init is
 * suspended until the workload has exec'd (or failed). */
static int step_init(const struct child_plan *plan, const char **detail)
{
    if (!plan->pid_init)
        return 0;
#if CELLOS_VFORK_WORKLOAD
    static char stack[64 * 1024] __attribute__((aligned(16)));
    pid_t pid = clone(workload_entry, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD,
                      (void *)plan);
#else
    pid_t pid = fork();
    if (pid == 0)
        workload_entry((void *)plan);
#endif
    if (pid < 0)
        return -errno;
    run_init(plan, pid);
}

/* ---- the workload's own steps ---- */

static int capset_all(uint32_t keep_mask_lo, uint32_t keep_mask_hi, bool keep)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        uint32_t mask = i == 0 ? keep_mask_lo : keep_mask_hi;
        data[i].effective = keep ? data[i].effective & mask : 0;
        data[i].permitted = keep ? data[i].permitted & mask : 0;
        data[i].inheritable = keep ? data[i].inheritable & mask : 0;
    }
    return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

static int drop_bounding(int cap)
{
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
        return -errno;
    return 0;
}

/* A cell with its own netns never keeps CAP_NET_ADMIN / CAP_NET_RAW; a
 * workload with run.user keeps nothing at all, bounding set included. */
static int step_caps(const struct child_plan *plan, const char **detail)
{
    if (plan->set_user) {
        /* Capabilities are numbered densely: the first EINVAL is past the
         * kernel's last one. */
        for (int cap = 0; cap <= 63; cap++) {
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
                continue;
            if (errno == EINVAL)
                break;
            return -errno;
        }
        return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL
                   ? -errno : 0;
    }
    if (!plan->drop_net_caps)
        return 0;
    int r = drop_bounding(CAP_NET_ADMIN);
    if (r == 0)
        r = drop_bounding(CAP_NET_RAW);
    if (r == 0)
        r = capset_all(~((1u << CAP_NET_ADMIN) | (1u << CAP_NET_RAW)), ~0u, true);
    return r;
}

static int step_user(const struct child_plan *plan, const char **detail)
{
    if (!plan->set_user)
        return 0;
    gid_t groups[1] = { plan->gid };
    if (setgroups(1, groups) < 0 || setresgid(plan->gid, plan->gid, plan->gid) < 0 ||
        setresuid(plan->uid, plan->uid, plan->uid) < 0)
        return -errno;
    /* A credential change clears the parent-death signal: set it again. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        return -errno;
    /* setresuid away from root clears permitted and effective; make sure. */
    return plan->uid != 0 ? capset_all(0, 0, false) : 0;
}

static int step_cwd(const struct child_plan *plan, const char **detail)
{
    *detail = plan->cwd;
    return plan->cwd && chdir(plan->cwd) < 0 ? -errno : 0;
}

/* Every descriptor above 2 becomes close-on-exec (the error pipe must stay
 * open until execve itself succeeds). */
static int step_fds(const struct child_plan *plan, const char **detail)
{
    return syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0 ? -errno : 0;
}

/* NO_NEW_PRIVS always, then the filter: last, because it may deny what the
 * steps above needed. */
static int step_seccomp(const struct child_plan *plan, const char **detail)
{
    return seccomp_program_install(plan->seccomp);
}

/* Like execvpe over candidates computed by the parent: ENOENT for a
 * candidate moves on; a more telling error (EACCES) is kept. */
static int step_exec(const struct child_plan *plan, const char **detail)
{
    int result = -ENOENT;
    *detail = plan->argv[0];
    for (const char *const *p = plan->exec_paths; *p; p++) {
        execve(*p, plan->argv, plan->envp);
        if (errno != ENOENT && errno != ENOTDIR)
            result = -errno;
    }
    return result;
}

typedef int (*child_step_fn)(const struct child_plan *plan, const char **detail);

static const child_step_fn checklist[CHILD_STEP__COUNT] = {
    [CHILD_STEP_SIGNALS] = step_signals,
    [CHILD_STEP_SESSION] = step_session,
    [CHILD_STEP_CGROUP] = step_cgroup,
    [CHILD_STEP_NETNS] = step_netns,
    [CHILD_STEP_MOUNTS] = step_mounts,
    [CHILD_STEP_HOSTNAME] = step_hostname,
    [CHILD_STEP_WAIT_PARENT] = step_wait_parent,
    [CHILD_STEP_SECRETS] = step_secrets,
    [CHILD_STEP_INIT] = step_init,
    [CHILD_STEP_CAPS] = step_caps,
    [CHILD_STEP_USER] = step_user,
    [CHILD_STEP_CWD] = step_cwd,
    [CHILD_STEP_FDS] = step_fds,
    [CHILD_STEP_SECCOMP] = step_seccomp,
    [CHILD_STEP_EXEC] = step_exec,
};

/* Run steps [first, end); the first failure is reported and ends the
 * process. The exec step does not return when it succeeds. */
static void run_steps(const struct child_plan *plan, int first, int end)
{
    for (int step = first; step < end; step++) {
        const char *detail = NULL;
        int r = checklist[step](plan, &detail);
        if (r < 0)
            fail(plan, (enum child_step)step, -r, detail);
    }
}

_Noreturn void child_run(const struct child_plan *plan)
{
    run_steps(plan, 0, CHILD_STEP__COUNT);
    fail(plan, CHILD_STEP_EXEC, ENOENT, plan->argv[0]); /* exec returned without error */
}
