/* cell-probe-host.c: attempts on the network, the host's tree, /proc, /sys,
 * /dev and the probe's own credentials (see cell-probe.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

#include "cell-probe.h"

/* Measured by probe_measure_inherited_fds() before main opens anything. */
static struct outcome inherited_fds_outcome;

/* ---- network ----------------------------------------------------------- */

static void try_socket(struct outcome *o, int family, int type, int proto, const char *what)
{
    int fd = socket(family, type | SOCK_CLOEXEC, proto);
    verdict_success(o, fd, errno, what);
    if (fd >= 0)
        close(fd);
}

static void try_raw_socket(const struct probe_args *a, struct outcome *o)
{
    try_socket(o, AF_INET, SOCK_RAW, IPPROTO_ICMP, "socket(AF_INET, SOCK_RAW)");
}

static void try_packet_socket(const struct probe_args *a, struct outcome *o)
{
    try_socket(o, AF_PACKET, SOCK_RAW, htons(0x0003 /* ETH_P_ALL */), "socket(AF_PACKET)");
}

static void try_connect_host(const struct probe_args *a, struct outcome *o)
{
    if (a->host_port <= 0) {
        say(o, false, "skipped: no --host-port given");
        return;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)a->host_port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sin, sizeof(sin));
    int err = errno;
    if (r < 0 && err == EINPROGRESS) {
        struct pollfd p = { fd, POLLOUT, 0 };
        socklen_t len = sizeof(err);
        err = ETIMEDOUT;
        if (poll(&p, 1, 3000) == 1)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        r = err == 0 ? 0 : -1;
    }
    if (r == 0)
        say(o, true, "connected to 127.0.0.1:%d", a->host_port);
    else
        say(o, false, "connect 127.0.0.1:%d: %s: %s", a->host_port, errname(err), strerror(err));
    if (fd >= 0)
        close(fd);
}

/* A read-only nf_tables request: every nfnetlink message needs
 * CAP_NET_ADMIN, so an answer other than EPERM means the firewall is ours. */
static void try_nft_netlink(const struct probe_args *a, struct outcome *o)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) {
        verdict_success(o, fd, errno, "socket(NETLINK_NETFILTER)");
        return;
    }
    struct {
        struct nlmsghdr nh;
        struct nfgenmsg nf;
    } req = {
        .nh = { .nlmsg_len = sizeof(req),
                .nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE,
                .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK, .nlmsg_seq = 1 },
        .nf = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0 },
    };
    struct timeval tv = { 3, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    ssize_t n = send(fd, &req, sizeof(req), 0) < 0 ? -1 : recv(fd, buf, sizeof(buf), 0);
    const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
    if (n < 0)
        say(o, false, "nf_tables request: %s: %s", errname(errno), strerror(errno));
    else if (n < (ssize_t)sizeof(*nh) || !NLMSG_OK(nh, (size_t)n))
        say(o, false, "nf_tables request: short answer");
    else if (nh->nlmsg_type == NLMSG_ERROR)
        verdict_privilege(o, -1, -((const struct nlmsgerr *)NLMSG_DATA(nh))->error,
                          "nf_tables GETTABLE");
    else
        say(o, true, "nf_tables GETTABLE answered (message type %u)", nh->nlmsg_type);
    close(fd);
}

/* ---- the host's tree, /proc, /sys, /dev -------------------------------- */

static void try_write_ro_path(const struct probe_args *a, struct outcome *o)
{
    const char *path = a->ro_path ? a->ro_path : "/usr/.cellos-probe";
    bool existed = access(path, F_OK) == 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    int err = errno;
    if (fd >= 0) {
        close(fd);
        if (!existed)
            unlink(path);
        say(o, true, "opened %s for writing%s", path, existed ? "" : " (created, removed)");
    } else {
        say(o, false, "open %s for writing: %s: %s", path, errname(err), strerror(err));
    }
}

/* Opening for writing is the proof; nothing is written. */
static void try_open_for_writing(struct outcome *o, const char *const *paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (access(paths[i], F_OK) < 0)
            continue;
        int fd = open(paths[i], O_WRONLY | O_CLOEXEC | O_NOCTTY);
        verdict_success(o, fd, errno, paths[i]);
        if (fd >= 0) {
            close(fd);
            snprintf(o->detail, sizeof(o->detail), "opened %s for writing", paths[i]);
        }
        return;
    }
    say(o, false, "none of the candidate files exists");
}

static void try_write_sys(const struct probe_args *a, struct outcome *o)
{
    static const char *const paths[] = {
        "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/mm/ksm/run",
        "/sys/kernel/profiling", "/sys/power/state", "/sys/kernel/uevent_helper",
    };
    try_open_for_writing(o, paths, ARRAY_SIZE(paths));
}

static void try_write_proc_sys(const struct probe_args *a, struct outcome *o)
{
    static const char *const paths[] = {
        "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe", "/proc/sysrq-trigger",
    };
    try_open_for_writing(o, paths, ARRAY_SIZE(paths));
}

static void try_sethostname(const struct probe_args *a, struct outcome *o)
{
    struct utsname u;
    uname(&u);
    int r = sethostname(u.nodename, strlen(u.nodename));     /* the same name: no change */
    int err = errno;
    if (r < 0)
        say(o, false, "sethostname: %s: %s", errname(err), strerror(err));
    else if (a->host_hostname && strcmp(a->host_hostname, u.nodename) != 0)
        say(o, false, "sethostname works, but on a UTS name \"%s\" that is not the host's",
            u.nodename);
    else
        say(o, true, "sethostname(\"%s\") succeeded", u.nodename);
}

static void try_mknod(const struct probe_args *a, struct outcome *o)
{
    char buf[64], node[96];
    bool made;
    const char *dir = scratch_dir(buf, sizeof(buf), &made);
    snprintf(node, sizeof(node), "%s/cellos-probe-null-%d", dir, (int)getpid());
    int r = mknod(node, S_IFCHR | 0600, makedev(1, 3));
    int err = errno;
    if (r == 0)
        unlink(node);
    if (made)
        rmdir(dir);
    verdict_success(o, r, err, "mknod(a character device)");
}

static void try_dev_kmsg(const struct probe_args *a, struct outcome *o)
{
    int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    verdict_success(o, fd, errno, "open /dev/kmsg");
    if (fd >= 0)
        close(fd);
}

static void try_dev_block(const struct probe_args *a, struct outcome *o)
{
    DIR *d = opendir("/dev");
    say(o, false, "no block device in /dev could be opened");
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[300];
        struct stat st;
        snprintf(path, sizeof(path), "/dev/%s", e->d_name);
        if (lstat(path, &st) < 0 || !S_ISBLK(st.st_mode))
            continue;
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            say(o, true, "opened block device %s", path);
            break;
        }
    }
    if (d)
        closedir(d);
}

/* CONTRACT section 3: /dev holds only these (ptmx may be a node too). */
static bool allowed_dev_node(const char *name)
{
    static const char *const allowed[] = { "null", "zero", "full", "random", "urandom",
                                           "tty", "ptmx" };
    for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
        if (strcmp(name, allowed[i]) == 0)
            return true;
    return false;
}

static void try_dev_extra_nodes(const struct probe_args *a, struct outcome *o)
{
    DIR *d = opendir("/dev");
    char list[300] = "";
    size_t extra = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[300];
        struct stat st;
        snprintf(path, sizeof(path), "/dev/%s", e->d_name);
        if (lstat(path, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) ||
            allowed_dev_node(e->d_name))
            continue;
        if (extra++ < 12 && strlen(list) + strlen(e->d_name) + 2 < sizeof(list))
            strcat(strcat(list, " "), e->d_name);
    }
    if (d)
        closedir(d);
    if (extra)
        say(o, true, "%zu device nodes beyond the contract's:%s%s", extra, list,
            extra > 12 ? " ..." : "");
    else
        say(o, false, "only the contract's device nodes");
}

/* ---- the probe's own credentials and state ----------------------------- */

static void try_setuid_root(const struct probe_args *a, struct outcome *o)
{
    uid_t before = getuid();
    if (before == 0 && geteuid() == 0) {
        say(o, true, "already running as uid 0");
        return;
    }
    int r = setuid(0);
    int err = errno;
    if (r == 0)
        say(o, true, "setuid(0) succeeded from uid %u", (unsigned)before);
    else
        say(o, false, "uid %u, setuid(0): %s", (unsigned)before, errname(err));
}

/* Read "Key:\t<value>" from /proc/self/status. */
static bool status_field(const char *key, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    size_t klen = strlen(key);
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ':')
            continue;
        const char *v = line + klen + 1 + strspn(line + klen + 1, " \t");
        snprintf(out, len, "%.*s", (int)strcspn(v, "\n"), v);
        found = true;
    }
    if (f)
        fclose(f);
    return found;
}

static void check_caps(struct outcome *o, const char *field)
{
    static const struct { int bit; const char *name; } watched[] = {
        { 12, "CAP_NET_ADMIN" }, { 13, "CAP_NET_RAW" }, { 21, "CAP_SYS_ADMIN" },
    };
    char hex[64];
    if (!status_field(field, hex, sizeof(hex))) {
        say(o, false, "no %s in /proc/self/status", field);
        return;
    }
    unsigned long long caps = strtoull(hex, NULL, 16);
    char held[96] = "";
    for (size_t i = 0; i < ARRAY_SIZE(watched); i++)
        if (caps & (1ULL << watched[i].bit))
            strcat(strcat(held, " "), watched[i].name);
    say(o, held[0] != '\0', "%s=%s%s%s", field, hex, held[0] ? ", holds" : "", held);
}

static void try_caps_effective(const struct probe_args *a, struct outcome *o)
{
    check_caps(o, "CapEff");
}

static void try_caps_permitted(const struct probe_args *a, struct outcome *o)
{
    check_caps(o, "CapPrm");
}

static void try_caps_bounding(const struct probe_args *a, struct outcome *o)
{
    check_caps(o, "CapBnd");
}

static void try_no_new_privs(const struct probe_args *a, struct outcome *o)
{
    int r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    if (r < 0)
        say(o, false, "PR_GET_NO_NEW_PRIVS: %s", errname(errno));
    else
        say(o, r == 0, "NO_NEW_PRIVS is %s", r ? "set" : "not set");
}

static void try_seccomp_off(const struct probe_args *a, struct outcome *o)
{
    char mode[16];
    if (!status_field("Seccomp", mode, sizeof(mode)))
        say(o, false, "no Seccomp line in /proc/self/status");
    else
        say(o, strcmp(mode, "0") == 0, "Seccomp: %s", mode);
}

static bool allowed_env(const struct probe_args *a, const char *entry)
{
    size_t len = strcspn(entry, "=");
    if ((len == 4 && strncmp(entry, "PATH", 4) == 0) || strncmp(entry, "CELLOS_", 7) == 0)
        return true;
    for (size_t i = 0; i < a->n_allow_env; i++)
        if (strlen(a->allow_env[i]) == len && strncmp(entry, a->allow_env[i], len) == 0)
            return true;
    return false;
}

/* Names only: a value may be a secret. */
static void try_foreign_env(const struct probe_args *a, struct outcome *o)
{
    extern char **environ;
    char list[300] = "";
    size_t extra = 0;
    for (char **e = environ; e && *e; e++) {
        if (allowed_env(a, *e))
            continue;
        size_t len = strcspn(*e, "=");
        size_t used = strlen(list);
        if (extra++ < 12 && used + len + 2 < sizeof(list))
            snprintf(list + used, sizeof(list) - used, " %.*s", (int)len, *e);
    }
    if (extra)
        say(o, true, "%zu variables beyond PATH and CELLOS_*:%s%s", extra, list,
            extra > 12 ? " ..." : "");
    else
        say(o, false, "only PATH and CELLOS_* variables");
}

static void try_inherited_fds(const struct probe_args *a, struct outcome *o)
{
    *o = inherited_fds_outcome;
}

/* Asks each descriptor number rather than listing /proc/self/fd, so the
 * answer holds where /proc is missing or foreign. */
void probe_measure_inherited_fds(void)
{
    struct outcome *o = &inherited_fds_outcome;
    long limit = sysconf(_SC_OPEN_MAX);
    if (limit < 0 || limit > 65536)
        limit = 65536;
    char list[300] = "";
    size_t extra = 0;
    for (int fd = 3; fd < limit; fd++) {
        if (fcntl(fd, F_GETFD) < 0)
            continue;
        size_t used = strlen(list);
        if (extra++ < 16 && used + 12 < sizeof(list))
            snprintf(list + used, sizeof(list) - used, " %d", fd);
    }
    if (extra)
        say(o, true, "%zu descriptors above 2:%s", extra, list);
    else
        say(o, false, "no descriptor above 2");
}

/* Inject a character into a terminal's input, then flush it away again. */
static void try_tiocsti(const struct probe_args *a, struct outcome *o)
{
    int fds[4] = { 0, 1, 2, open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC) };
    say(o, false, "no terminal among fds 0-2 and /dev/tty");
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
        if (fds[i] < 0 || !isatty(fds[i]))
            continue;
        char c = ' ';
        if (ioctl(fds[i], TIOCSTI, &c) == 0) {
            tcflush(fds[i], TCIFLUSH);
            say(o, true, "TIOCSTI into %s succeeded", i < 3 ? "an inherited terminal" : "/dev/tty");
            break;
        }
        say(o, false, "TIOCSTI: %s: %s", errname(errno), strerror(errno));
    }
    if (fds[3] >= 0)
        close(fds[3]);
}

/* ---- the table --------------------------------------------------------- */

const struct attempt probe_host_attempts[] = {
    { "raw-socket", try_raw_socket },
    { "packet-socket", try_packet_socket },
    { "connect-host-loopback", try_connect_host },
    { "nft-netlink", try_nft_netlink },
    { "write-ro-path", try_write_ro_path },
    { "write-sys", try_write_sys },
    { "write-proc-sys", try_write_proc_sys },
    { "sethostname", try_sethostname },
    { "mknod-chardev", try_mknod },
    { "dev-kmsg", try_dev_kmsg },
    { "dev-block", try_dev_block },
    { "dev-extra-nodes", try_dev_extra_nodes },
    { "setuid-root", try_setuid_root },
    { "caps-effective", try_caps_effective },
    { "caps-permitted", try_caps_permitted },
    { "caps-bounding", try_caps_bounding },
    { "no-new-privs-unset", try_no_new_privs },
    { "seccomp-off", try_seccomp_off },
    { "foreign-env", try_foreign_env },
    { "inherited-fds", try_inherited_fds },
    { "tiocsti", try_tiocsti },
};
const size_t probe_host_attempts_count = sizeof(probe_host_attempts) / sizeof(probe_host_attempts[0]);
