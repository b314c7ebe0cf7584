/* cell-probe-kernel.c: attempts on mounts, namespaces, other processes and
 * kernel facilities (see cell-probe.c for what "escaped" means). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cell-probe.h"

/* ---- mounts and the root directory ------------------------------------- */

static void try_mount_tmpfs(const struct probe_args *a, struct outcome *o)
{
    char buf[64];
    bool made;
    const char *dir = scratch_dir(buf, sizeof(buf), &made);
    int r = mount("cellos-probe", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k");
    int err = errno;
    if (r == 0)
        umount2(dir, MNT_DETACH);
    if (made)
        rmdir(dir);
    verdict_success(o, r, err, "mount tmpfs");
}

static void try_fsopen(const struct probe_args *a, struct outcome *o)
{
    long fd = syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */);
    verdict_success(o, fd, errno, "fsopen(tmpfs)");
    if (fd >= 0)
        close((int)fd);
}

/* A directory that is not a mount point: EINVAL comes only after the
 * privilege check, so nothing is ever unmounted. */
static void try_umount(const struct probe_args *a, struct outcome *o)
{
    char buf[64];
    bool made;
    const char *dir = scratch_dir(buf, sizeof(buf), &made);
    if (!made)
        dir = "/proc/self/fd";
    int r = umount2(dir, UMOUNT_NOFOLLOW);
    verdict_privilege(o, r, errno, "umount2(a non-mount-point directory)");
    if (made)
        rmdir(dir);
}

static void try_pivot_root(const struct probe_args *a, struct outcome *o)
{
    long r = syscall(SYS_pivot_root, NONEXISTENT, NONEXISTENT);
    verdict_privilege(o, r, errno, "pivot_root(a missing path)");
}

static void try_chroot(const struct probe_args *a, struct outcome *o)
{
    int r = chroot("/");
    verdict_success(o, r, errno, "chroot(/)");
}

/* ---- namespaces -------------------------------------------------------- */

static void try_unshare(struct outcome *o, int flag, const char *what)
{
    int r = unshare(flag);
    verdict_success(o, r, errno, what);
}

static void try_unshare_mnt(const struct probe_args *a, struct outcome *o)
{
    try_unshare(o, CLONE_NEWNS, "unshare(CLONE_NEWNS)");
}

static void try_unshare_net(const struct probe_args *a, struct outcome *o)
{
    try_unshare(o, CLONE_NEWNET, "unshare(CLONE_NEWNET)");
}

static void try_unshare_user(const struct probe_args *a, struct outcome *o)
{
    try_unshare(o, CLONE_NEWUSER, "unshare(CLONE_NEWUSER)");
}

static void reap(long pid, struct outcome *o, int err, const char *what)
{
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid((pid_t)pid, NULL, __WALL);
    verdict_success(o, pid, err, what);
}

static void try_clone_newuser(const struct probe_args *a, struct outcome *o)
{
    long pid = syscall(SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L);
    reap(pid, o, errno, "clone(CLONE_NEWUSER)");
}

static void try_clone3_newuser(const struct probe_args *a, struct outcome *o)
{
    struct clone_args ca = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
    long pid = syscall(SYS_clone3, &ca, sizeof(ca));
    reap(pid, o, errno, "clone3(CLONE_NEWUSER)");
}

static void try_setns_path(struct outcome *o, const char *path, int nstype, const char *what)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say(o, false, "open %s: %s: %s", path, errname(errno), strerror(errno));
        return;
    }
    int r = setns(fd, nstype);
    verdict_success(o, r, errno, what);
    close(fd);
}

/* Join another process's network namespace: the target's (a host process)
 * when given, and PID 1's. */
static void try_setns_net(const struct probe_args *a, struct outcome *o)
{
    struct outcome target = { false, "skipped: no --target-pid given" };
    if (a->target_pid > 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)a->target_pid);
        try_setns_path(&target, path, CLONE_NEWNET, "setns(the target's network namespace)");
        if (target.escaped) {
            *o = target;
            return;
        }
    }
    struct outcome pid1;
    try_setns_path(&pid1, "/proc/1/ns/net", CLONE_NEWNET, "setns(/proc/1/ns/net)");
    if (pid1.escaped)
        *o = pid1;
    else
        say(o, false, "%.190s; %.190s", target.detail, pid1.detail);
}

static void try_setns_target_mnt(const struct probe_args *a, struct outcome *o)
{
    if (!need_target(a, o))
        return;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)a->target_pid);
    try_setns_path(o, path, CLONE_NEWNS, "setns(the target's mount namespace)");
}

/* ---- other processes --------------------------------------------------- */

static void try_ptrace_attach(const struct probe_args *a, struct outcome *o)
{
    if (!need_target(a, o))
        return;
    pid_t pid = a->target_pid;
    if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0) {
        verdict_success(o, -1, errno, "ptrace(PTRACE_ATTACH, target)");
        return;
    }
    waitpid(pid, NULL, __WALL);
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    say(o, true, "ptrace(PTRACE_ATTACH, %d) succeeded (detached again)", (int)pid);
}

/* The first mapping of the target when its maps are readable; otherwise a
 * guess: EFAULT still proves that the access check passed. */
static unsigned long target_address(pid_t pid)
{
    char path[64];
    unsigned long addr = 0x10000;
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (fscanf(f, "%lx-", &addr) != 1)
            addr = 0x10000;
        fclose(f);
    }
    return addr;
}

static void try_process_vm_readv(const struct probe_args *a, struct outcome *o)
{
    if (!need_target(a, o))
        return;
    char byte[8];
    struct iovec local = { byte, sizeof(byte) };
    struct iovec remote = { (void *)target_address(a->target_pid), sizeof(byte) };
    ssize_t n = process_vm_readv(a->target_pid, &local, 1, &remote, 1, 0);
    int err = errno;
    if (n < 0 && err == EFAULT)
        say(o, true, "process_vm_readv(target): EFAULT: the access check passed");
    else if (n < 0 && err == ESRCH)
        say(o, false, "process_vm_readv(target): ESRCH: not visible");
    else
        verdict_success(o, n, err, "process_vm_readv(target)");
}

static void try_kill_target(const struct probe_args *a, struct outcome *o)
{
    if (!need_target(a, o))
        return;
    int r = kill(a->target_pid, 0);
    verdict_success(o, r, errno, "kill(target, 0)");
}

static bool read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return false;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return true;
}

static void try_host_pid_visible(const struct probe_args *a, struct outcome *o)
{
    if (!need_target(a, o))
        return;
    char path[64], comm[64] = "?";
    struct stat st;
    snprintf(path, sizeof(path), "/proc/%d", (int)a->target_pid);
    if (stat(path, &st) < 0) {
        say(o, false, "%s: %s", path, errname(errno));
        return;
    }
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)a->target_pid);
    read_small(path, comm, sizeof(comm));
    if (a->target_comm && strcmp(comm, a->target_comm) != 0)
        say(o, false, "/proc/%d exists but runs \"%s\", not the target", (int)a->target_pid, comm);
    else
        say(o, true, "/proc/%d is visible (comm \"%s\")", (int)a->target_pid, comm);
}

static void try_supervisor_environ(const struct probe_args *a, struct outcome *o)
{
    if (a->supervisor_pid <= 0) {
        say(o, false, "skipped: no --supervisor-pid given");
        return;
    }
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)a->supervisor_pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say(o, false, "open %s: %s: %s", path, errname(errno), strerror(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    int err = errno;
    close(fd);
    if (n < 0)
        say(o, false, "read %s: %s", path, errname(err));
    else
        say(o, true, "read %zd bytes of %s", n, path);
}

/* ---- loading code into the kernel, kernel facilities ------------------- */

/* A kexec architecture that does not exist: EINVAL once past the checks
 * for CAP_SYS_BOOT (and lockdown), so nothing is loaded or unloaded. */
static void try_kexec_load(const struct probe_args *a, struct outcome *o)
{
    long r = syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0x7fff0000UL);
    verdict_privilege(o, r, errno, "kexec_load(foreign architecture)");
}

static void try_init_module(const struct probe_args *a, struct outcome *o)
{
    static const char garbage[16] = "not an ELF file";
    long r = syscall(SYS_init_module, garbage, sizeof(garbage), "");
    verdict_privilege(o, r, errno, "init_module(garbage)");
}

static void try_bpf_map_create(const struct probe_args *a, struct outcome *o)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
    verdict_success(o, fd, errno, "bpf(BPF_MAP_CREATE)");
    if (fd >= 0)
        close((int)fd);
}

/* Counting kernel time too: refused without CAP_PERFMON when
 * perf_event_paranoid >= 2, and by the baseline filter always. */
static void try_perf_event_open(const struct probe_args *a, struct outcome *o)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.disabled = 1;
    long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
    verdict_success(o, fd, errno, "perf_event_open(cpu clock, kernel included)");
    if (fd >= 0)
        close((int)fd);
}

static void try_add_key(const struct probe_args *a, struct outcome *o)
{
    long key = syscall(SYS_add_key, "user", "cellos-probe", "x", 1UL,
                       (long)KEY_SPEC_PROCESS_KEYRING);
    verdict_success(o, key, errno, "add_key(user, process keyring)");
    if (key >= 0)
        syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);
}

static void try_keyctl_session(const struct probe_args *a, struct outcome *o)
{
    long r = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
    verdict_success(o, r, errno, "keyctl(KEYCTL_JOIN_SESSION_KEYRING)");
}

static void try_open_by_handle_at(const struct probe_args *a, struct outcome *o)
{
    struct {
        struct file_handle fh;
        unsigned char bytes[MAX_HANDLE_SZ];
    } h;
    memset(&h, 0, sizeof(h));
    h.fh.handle_bytes = MAX_HANDLE_SZ;
    int mount_id;
    if (name_to_handle_at(AT_FDCWD, "/", &h.fh, &mount_id, 0) < 0) {
        h.fh.handle_bytes = 8;      /* a made-up handle still meets the check */
        h.fh.handle_type = 1;
    }
    int mfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC);
    verdict_privilege(o, fd, errno, "open_by_handle_at(/)");
    if (fd >= 0)
        close(fd);
    if (mfd >= 0)
        close(mfd);
}

static void try_userfaultfd(const struct probe_args *a, struct outcome *o)
{
    long fd = syscall(SYS_userfaultfd, (long)O_CLOEXEC);   /* kernel faults too */
    verdict_success(o, fd, errno, "userfaultfd(kernel and user faults)");
    if (fd >= 0)
        close((int)fd);
}

static void try_io_uring_setup(const struct probe_args *a, struct outcome *o)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    long fd = syscall(SYS_io_uring_setup, 1L, &p);
    verdict_success(o, fd, errno, "io_uring_setup");
    if (fd >= 0)
        close((int)fd);
}

static void try_reboot(const struct probe_args *a, struct outcome *o)
{
    long r = syscall(SYS_reboot, 0L, 0L, 0L, NULL);     /* bad magic: EINVAL */
    verdict_privilege(o, r, errno, "reboot(bad magic)");
}

static void try_settimeofday(const struct probe_args *a, struct outcome *o)
{
    long r = syscall(SYS_settimeofday, NULL, NULL);     /* sets nothing */
    verdict_success(o, r, errno, "settimeofday(NULL, NULL)");
}

static void try_swapon(const struct probe_args *a, struct outcome *o)
{
    long r = syscall(SYS_swapon, NONEXISTENT, 0L);
    verdict_privilege(o, r, errno, "swapon(a missing file)");
}

static void try_personality(const struct probe_args *a, struct outcome *o)
{
    long r = syscall(SYS_personality, (unsigned long)ADDR_NO_RANDOMIZE);
    verdict_success(o, r, errno, "personality(ADDR_NO_RANDOMIZE)");
}

/* ---- the table --------------------------------------------------------- */

const struct attempt probe_kernel_attempts[] = {
    { "mount-tmpfs", try_mount_tmpfs },
    { "fsopen", try_fsopen },
    { "umount", try_umount },
    { "pivot-root", try_pivot_root },
    { "chroot", try_chroot },
    { "unshare-mnt", try_unshare_mnt },
    { "unshare-net", try_unshare_net },
    { "unshare-user", try_unshare_user },
    { "clone-newuser", try_clone_newuser },
    { "clone3-newuser", try_clone3_newuser },
    { "setns-net", try_setns_net },
    { "setns-target-mnt", try_setns_target_mnt },
    { "ptrace-attach", try_ptrace_attach },
    { "process-vm-readv", try_process_vm_readv },
    { "kill-target", try_kill_target },
    { "host-pid-visible", try_host_pid_visible },
    { "supervisor-environ", try_supervisor_environ },
    { "kexec-load", try_kexec_load },
    { "init-module", try_init_module },
    { "bpf-map-create", try_bpf_map_create },
    { "perf-event-open", try_perf_event_open },
    { "add-key", try_add_key },
    { "keyctl-join-session", try_keyctl_session },
    { "open-by-handle-at", try_open_by_handle_at },
    { "userfaultfd", try_userfaultfd },
    { "io-uring-setup", try_io_uring_setup },
    { "reboot", try_reboot },
    { "settimeofday", try_settimeofday },
    { "swapon", try_swapon },
    { "personality-no-aslr", try_personality },
};
const size_t probe_kernel_attempts_count = sizeof(probe_kernel_attempts) / sizeof(probe_kernel_attempts[0]);
