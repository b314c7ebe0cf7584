/* netprep.c: the helper process that prepares a cell's network namespace
 * (netprep.h says why it is a process). */
#include "net/netprep.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/nft.h"

#define REASON "isolation_failed"
/* The helper's whole job takes a few milliseconds; this only bounds a hang
 * (generous: a sanitizer build on a loaded 2-core machine once took over
 * 10 s). */
#define NETPREP_TIMEOUT_MS 30000

enum msg_kind { MSG_NETNS = 1, MSG_OPENED, MSG_DONE };

/* One datagram on the SOCK_SEQPACKET pair; descriptors ride along as
 * SCM_RIGHTS. Fixed size, so the reader never has to frame anything. */
struct netprep_msg {
    uint32_t kind;
    int32_t r;                 /* MSG_OPENED: count or -errno; MSG_DONE: 0 or -errno */
    char msg[NETPREP_MSG_MAX];
};

/* ---- the helper's side ---- */

static void send_msg(int sock, uint32_t kind, int r, const char *text, const int *fds, size_t n)
{
    struct netprep_msg m = { .kind = kind, .r = r };
    if (text)
        snprintf(m.msg, sizeof(m.msg), "%s", text);
    struct iovec iov = { &m, sizeof(m) };
    union {
        char buf[CMSG_SPACE(sizeof(int) * NETPREP_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (n) {
        memset(&control, 0, sizeof(control));
        mh.msg_control = control.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    }
    while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

static int loopback_up(struct cell_err *err)
{
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cell_err_set(err, errno, REASON, "loopback: socket: %s", strerror(errno));
    struct ifreq ifr = { 0 };
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return cell_err_set(err, errno, REASON, "loopback: %s", strerror(errno));
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        return cell_err_set(err, errno, REASON, "cannot bring loopback up: %s", strerror(errno));
    return 0;
}

/* One RTM_NEWROUTE: default dev lo src <loopback>, answered by an ACK.
 * The preferred source matters: without it the kernel picks 0.0.0.0 (lo's
 * 127.0.0.1 has host scope), and an answer un-NATed back from the DNS proxy
 * would not match the workload's flow. */
static int add_default_route(int family, const void *src, size_t src_len, int ifindex)
{
    struct {
        struct nlmsghdr nh;
        struct rtmsg rt;
        struct rtattr oif_attr;
        int oif;
        struct rtattr src_attr;
        unsigned char src[16];
    } req = { 0 };
    req.nh.nlmsg_type = RTM_NEWROUTE;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    req.nh.nlmsg_seq = 1;
    req.rt = (struct rtmsg){ .rtm_family = (unsigned char)family, .rtm_table = RT_TABLE_MAIN,
                             .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_LINK,
                             .rtm_type = RTN_UNICAST };
    req.oif_attr = (struct rtattr){ .rta_len = RTA_LENGTH(sizeof(int)), .rta_type = RTA_OIF };
    req.oif = ifindex;
    req.src_attr = (struct rtattr){ .rta_len = (unsigned short)RTA_LENGTH(src_len),
                                    .rta_type = RTA_PREFSRC };
    memcpy(req.src, src, src_len);
    req.nh.nlmsg_len = (uint32_t)(offsetof(__typeof__(req), src) + src_len);

    _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0 || send(fd, &req, req.nh.nlmsg_len, 0) < 0)
        return -errno;
    union {
        char buf[512];
        struct nlmsghdr align;
    } answer;
    ssize_t n = recv(fd, answer.buf, sizeof(answer.buf), 0);
    if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
        return n < 0 ? -errno : -EPROTO;
    if (answer.align.nlmsg_type != NLMSG_ERROR)
        return -EPROTO;
    struct nlmsgerr e;
    memcpy(&e, NLMSG_DATA(&answer.align), sizeof(e));
    return e.error; /* 0 or -errno */
}

/* default dev lo, both families: this kernel has no dummy link type, and a
 * route is all that is needed for a connect to reach the nat hook. */
static int default_routes(struct cell_err *err)
{
    int lo = (int)if_nametoindex("lo");
    struct in_addr v4 = { htonl(INADDR_LOOPBACK) };
    int r = add_default_route(AF_INET, &v4, sizeof(v4), lo);
    if (r < 0)
        return cell_err_set(err, -r, REASON, "default route via lo: %s", strerror(-r));
    r = add_default_route(AF_INET6, &in6addr_loopback, sizeof(in6addr_loopback), lo);
    if (r < 0 && r != -EAFNOSUPPORT) /* a kernel without IPv6: the IPv4 route is what matters */
        return cell_err_set(err, -r, REASON, "IPv6 default route via lo: %s", strerror(-r));
    return 0;
}

static int make_netns(int sock, struct cell_err *err)
{
    if (unshare(CLONE_NEWNET) < 0)
        return cell_err_set(err, errno, REASON, "cannot create the cell's network namespace: %s",
                            strerror(errno));
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cell_err_set(err, errno, REASON, "cannot open the new netns: %s", strerror(errno));
    send_msg(sock, MSG_NETNS, 0, NULL, &fd, 1);
    close(fd);
    return 0;
}

static void run_openers(int sock, const struct netprep_request *req)
{
    for (size_t i = 0; i < req->n_openers; i++) {
        const struct netprep_opener *o = &req->openers[i];
        int fds[NETPREP_MAX_FDS];
        struct cell_err err = { 0 };
        int n = o->open(o->ctx, fds, NETPREP_MAX_FDS, &err);
        if (n < 0)
            send_msg(sock, MSG_OPENED, n, err.msg[0] ? err.msg : strerror(-n), NULL, 0);
        else
            send_msg(sock, MSG_OPENED, n, NULL, fds, (size_t)n > NETPREP_MAX_FDS ? 0 : (size_t)n);
    }
}

/* The helper's life: netns, loopback, route, ruleset, openers, status.
 * Nothing is freed: the process ends here. */
static _Noreturn void helper_main(int sock, const struct netprep_request *req)
{
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct cell_err err = { 0 };
    int r = make_netns(sock, &err);
    if (r == 0)
        r = loopback_up(&err);
    if (r == 0 && req->default_route)
        r = default_routes(&err);
    if (r == 0 && req->ruleset)
        r = nft_apply_here(req->ruleset, &err);
    if (r == 0)
        run_openers(sock, req);
    send_msg(sock, MSG_DONE, r, r < 0 ? err.msg : NULL, NULL, 0);
    _exit(r < 0 ? 1 : 0);
}

/* ---- the supervisor's side ---- */

int netprep_start(const struct netprep_request *req, struct netprep *np, struct cell_err *err)
{
    *np = (struct netprep)NETPREP_INIT;
    if (req->n_openers > NETPREP_MAX_OPENERS)
        return cell_err_set(err, EINVAL, REASON, "netprep: too many openers");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return cell_err_set(err, errno, REASON, "netprep: socketpair: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        return cell_err_set(err, e, REASON, "cannot start the network helper: %s", strerror(e));
    }
    if (pid == 0) {
        close(sv[0]);
        helper_main(sv[1], req);
    }
    close(sv[1]);
    np->pid = pid;
    np->sock = sv[0];
    np->n_openers = req->n_openers;
    return 0;
}

/* The next message, with its descriptors (at most max) stored in fds. */
static int recv_msg(struct netprep *np, struct netprep_msg *m, int *fds, size_t max, size_t *n_fds,
                    struct cell_err *err)
{
    struct pollfd p = { np->sock, POLLIN, 0 };
    int pr;
    do
        pr = poll(&p, 1, NETPREP_TIMEOUT_MS);
    while (pr < 0 && errno == EINTR);
    if (pr == 0)
        return cell_err_set(err, ETIMEDOUT, REASON, "the network helper did not answer within %d s",
                            NETPREP_TIMEOUT_MS / 1000);
    union {
        char buf[CMSG_SPACE(sizeof(int) * NETPREP_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { m, sizeof(*m) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf) };
    ssize_t got;
    do
        got = recvmsg(np->sock, &mh, MSG_CMSG_CLOEXEC);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return cell_err_set(err, errno, REASON, "network helper: %s", strerror(errno));
    if (got == 0)
        return cell_err_set(err, EPIPE, REASON, "the network helper died before it finished");
    *n_fds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*n_fds < max)
                fds[(*n_fds)++] = fd;
            else
                close(fd);
        }
    }
    if ((size_t)got != sizeof(*m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        for (size_t i = 0; i < *n_fds; i++)
            close(fds[i]);
        return cell_err_set(err, EPROTO, REASON, "network helper: a garbled message");
    }
    m->msg[sizeof(m->msg) - 1] = '\0';
    return 0;
}

int netprep_netns_fd(struct netprep *np, struct cell_err *err)
{
    if (np->netns_fd >= 0)
        return np->netns_fd;
    struct netprep_msg m;
    int fd = -1;
    size_t n = 0;
    int r = recv_msg(np, &m, &fd, 1, &n, err);
    if (r < 0)
        return r;
    if (m.kind == MSG_DONE && m.r < 0)
        return cell_err_set(err, -m.r, REASON, "%s", m.msg);
    if (m.kind != MSG_NETNS || n != 1) {
        if (n)
            close(fd);
        return cell_err_set(err, EPROTO, REASON, "network helper: no netns in its first message");
    }
    np->netns_fd = fd;
    return fd;
}

static void reap(struct netprep *np)
{
    if (np->pid <= 0)
        return;
    kill(np->pid, SIGKILL);
    int status;
    while (waitpid(np->pid, &status, 0) < 0 && errno == EINTR)
        ;
    np->pid = 0;
}

int netprep_finish(struct netprep *np, struct netprep_opened *out, struct cell_err *err)
{
    for (size_t i = 0; i < np->n_openers; i++)
        out[i] = (struct netprep_opened){ 0 };
    int r = netprep_netns_fd(np, err);
    for (size_t i = 0; r >= 0 && i < np->n_openers; i++) {
        struct netprep_msg m;
        struct netprep_opened *o = &out[i];
        r = recv_msg(np, &m, o->fds, NETPREP_MAX_FDS, &o->n_fds, err);
        if (r < 0)
            break;
        if (m.kind == MSG_DONE) { /* the ruleset failed: no openers ran */
            r = cell_err_set(err, m.r < 0 ? -m.r : EPROTO, REASON, "%s", m.msg);
            break;
        }
        o->r = m.r < 0 ? m.r : (int)o->n_fds;
        snprintf(o->msg, sizeof(o->msg), "%s", m.msg);
    }
    if (r >= 0) {
        struct netprep_msg m;
        size_t n = 0;
        int none;
        r = recv_msg(np, &m, &none, 0, &n, err);
        if (r == 0 && (m.kind != MSG_DONE || m.r < 0))
            r = cell_err_set(err, m.r < 0 ? -m.r : EPROTO, REASON, "%s", m.msg);
    }
    reap(np);
    if (r < 0)
        for (size_t i = 0; i < np->n_openers; i++)
            for (size_t k = 0; k < out[i].n_fds; k++)
                close(out[i].fds[k]);
    return r < 0 ? r : 0;
}

void netprep_clear(struct netprep *np)
{
    reap(np);
    if (np->sock >= 0)
        close(np->sock);
    if (np->netns_fd >= 0)
        close(np->netns_fd);
    *np = (struct netprep)NETPREP_INIT;
}
