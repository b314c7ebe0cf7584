/* probe.c: `cellos probe`: what this host can enforce, as a table or JSON.
 * Every check tries the real thing (in a throwaway child where it changes
 * state) rather than trusting version numbers. */
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/landlock.h>
#include <linux/netlink.h>

#include "base/buf.h"
#include "cli.h"
#include "isolate/cgroup.h"

struct probe_row {
    const char *name;
    bool ok;
    char detail[512];
};

/* Can a child unshare this namespace type? */
static bool try_unshare(int flag)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(unshare(flag) == 0 ? 0 : 1);
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

static void probe_namespaces(struct probe_row *rows, size_t *n)
{
    static const struct { const char *name; int flag; } ns[] = {
        { "namespace pid", CLONE_NEWPID }, { "namespace ipc", CLONE_NEWIPC },
        { "namespace net", CLONE_NEWNET }, { "namespace uts", CLONE_NEWUTS },
        { "namespace mnt", CLONE_NEWNS },  { "user namespaces", CLONE_NEWUSER },
    };
    for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
        struct probe_row *r = &rows[(*n)++];
        r->name = ns[i].name;
        r->ok = try_unshare(ns[i].flag);
        snprintf(r->detail, sizeof(r->detail), "%s", r->ok ? "unshare works" : "unshare refused");
    }
}

static void probe_cgroups(struct probe_row *r)
{
    struct cgroup_layout l;
    struct cell_err err;
    r->name = "cgroups";
    if (cgroup_layout_detect(&l, NULL, NULL, &err) < 0) {
        snprintf(r->detail, sizeof(r->detail), "%s", err.msg);
        return;
    }
    _cleanup_buf_ struct buf d = BUF_INIT;
    cgroup_layout_describe(&l, &d);
    r->ok = l.kind != CGROUP_LAYOUT_NONE;
    snprintf(r->detail, sizeof(r->detail), "%s", d.data ? d.data : "");
    cgroup_layout_done(&l);
}

static void probe_seccomp(struct probe_row *r)
{
    r->name = "seccomp";
    _cleanup_free_ char *actions = NULL;
    r->ok = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 &&
            read_file_path("/proc/sys/kernel/seccomp/actions_avail", 4096, &actions, NULL) == 0;
    if (actions)
        actions[strcspn(actions, "\n")] = '\0';
    snprintf(r->detail, sizeof(r->detail), "actions: %s%s", actions ? actions : "unknown",
             actions && strstr(actions, "user_notif") ? " (user notification available)" : "");
}

static bool netlink_works(int proto)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static void probe_netfilter(struct probe_row *rows, size_t *n)
{
    struct probe_row *r = &rows[(*n)++];
    r->name = "nftables";
    r->ok = netlink_works(NETLINK_NETFILTER);
    snprintf(r->detail, sizeof(r->detail), "%s", r->ok ? "nfnetlink available" : "no nfnetlink");
    r = &rows[(*n)++];
    r->name = "NFLOG";
    _cleanup_free_ char *loggers = NULL;
    bool listed = read_file_path("/proc/net/netfilter/nf_log", 1 << 16, &loggers, NULL) == 0;
    r->ok = rows[*n - 2].ok && listed;
    snprintf(r->detail, sizeof(r->detail), "%s",
             listed ? "nf_log present" : "no /proc/net/netfilter/nf_log");
}

static void probe_landlock(struct probe_row *r)
{
    r->name = "Landlock";
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    r->ok = abi > 0;
    if (r->ok)
        snprintf(r->detail, sizeof(r->detail), "ABI %ld", abi);
    else
        snprintf(r->detail, sizeof(r->detail), "unavailable: %s", strerror(errno));
}

static void probe_kvm(struct probe_row *r)
{
    r->name = "KVM";
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    r->ok = fd >= 0;
    snprintf(r->detail, sizeof(r->detail), "%s", r->ok ? "/dev/kvm usable" : strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void probe_runsc(struct probe_row *r)
{
    r->name = "runsc (gVisor)";
    const char *dirs[] = { "/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin" };
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/runsc", dirs[i]);
        if (access(path, X_OK) == 0) {
            r->ok = true;
            snprintf(r->detail, sizeof(r->detail), "%s", path);
            return;
        }
    }
    snprintf(r->detail, sizeof(r->detail), "not installed");
}

static size_t probe_all(struct probe_row *rows)
{
    size_t n = 0;
    probe_namespaces(rows, &n);
    probe_cgroups(&rows[n++]);
    probe_seccomp(&rows[n++]);
    probe_netfilter(rows, &n);
    probe_landlock(&rows[n++]);
    probe_kvm(&rows[n++]);
    probe_runsc(&rows[n++]);
    return n;
}

int cmd_probe(int argc, char **argv)
{
    bool as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (argc > 2 || (argc == 2 && !as_json)) {
        bool help = strcmp(argv[1], "--help") == 0;
        fprintf(help ? stdout : stderr, "usage: cellos probe [--json]\n");
        return help ? 0 : 2;
    }
    struct probe_row rows[32] = { 0 };
    size_t n = probe_all(rows);
    if (as_json) {
        json_t *o = json_object();
        for (size_t i = 0; i < n; i++)
            json_object_set_new(o, rows[i].name, json_pack("{s:b, s:s}", "available", rows[i].ok,
                                                           "detail", rows[i].detail));
        char *text = json_dumps(o, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
        json_decref(o);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        printf("%-18s %-4s %s\n", rows[i].name, rows[i].ok ? "yes" : "no", rows[i].detail);
    return 0;
}
