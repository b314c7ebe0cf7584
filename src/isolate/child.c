#include "child.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "base/strtab.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static const struct strtab_entry step_names[] = {
    { CHILD_STEP_SIGNALS, "reset signals" },
    { CHILD_STEP_SESSION, "start a session" },
    { CHILD_STEP_CGROUP, "join the cgroup" },
    { CHILD_STEP_CWD, "enter the working directory" },
    { CHILD_STEP_FDS, "close inherited descriptors" },
    { CHILD_STEP_NO_NEW_PRIVS, "set no_new_privs" },
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

/* Async-signal-safe string copy into a fixed buffer. */
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

/* The supervisor blocks signals for its signalfd and may ignore SIGPIPE:
 * both would be inherited through execve, so restore the defaults. */
static int step_signals(const struct child_plan *plan, const char **detail)
{
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    return sigprocmask(SIG_SETMASK, &none, NULL) < 0 ? -errno : 0;
}

/* A session of its own: no controlling terminal, so no TIOCSTI into the
 * caller's terminal, and a process group the supervisor can signal. */
static int step_session(const struct child_plan *plan, const char **detail)
{
    return setsid() < 0 ? -errno : 0;
}

static int step_cgroup(const struct child_plan *plan, const char **detail)
{
    for (size_t i = 0; i < plan->n_cgroup_procs_fds; i++)
        if (write(plan->cgroup_procs_fds[i], "0", 1) != 1)
            return -errno;
    return 0;
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

static int step_no_new_privs(const struct child_plan *plan, const char **detail)
{
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
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
    [CHILD_STEP_CWD] = step_cwd,
    [CHILD_STEP_FDS] = step_fds,
    [CHILD_STEP_NO_NEW_PRIVS] = step_no_new_privs,
    [CHILD_STEP_EXEC] = step_exec,
};

_Noreturn void child_run(const struct child_plan *plan)
{
    for (int step = 0; step < CHILD_STEP__COUNT; step++) {
        const char *detail = NULL;
        int r = checklist[step](plan, &detail);
        if (r < 0)
            fail(plan, (enum child_step)step, -r, detail);
    }
    fail(plan, CHILD_STEP_EXEC, ENOENT, plan->argv[0]); /* exec returned without error */
}
