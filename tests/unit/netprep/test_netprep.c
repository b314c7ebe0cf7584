/* test_netprep.c: the netprep helper for real, as root. Each test checks
 * what ends up in the namespace from outside it: a forked probe setns()es
 * into the descriptor the helper handed back and reports what it sees. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "net/netprep.h"
#include "net/nft.h"
#include "tap.h"

#define TEST_PORT 47353

static const char *ruleset =
    "table inet cellos_netprep_test {\n"
    "  chain output { type filter hook output priority 0; policy accept;\n"
    "    counter comment \"everything\"\n"
    "  }\n"
    "}\n";

static ino_t netns_inode(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static ino_t own_netns_inode(void)
{
    struct stat st;
    return stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

/* Opener: one UDP socket bound to 127.0.0.1:TEST_PORT (needs loopback up). */
static int open_udp(void *ctx, int *fds, size_t max, struct cell_err *err)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TEST_PORT),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return cell_err_set(err, errno, "test", "bind: %s", strerror(errno));
    fds[0] = fd;
    return 1;
}

static int open_fails(void *ctx, int *fds, size_t max, struct cell_err *err)
{
    return cell_err_set(err, EADDRINUSE, "upstream_failure", "the test opener refuses");
}

/* In a forked probe inside netns_fd: 0 when `what` holds there. */
static int probe_in(int netns_fd, int (*what)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setns(netns_fd, CLONE_NEWNET) < 0)
            _exit(100);
        _exit(what());
    }
    int status = -1;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

static int loopback_is_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = { 0 };
    memcpy(ifr.ifr_name, "lo", 3);
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return 2;
    return (ifr.ifr_flags & IFF_UP) ? 0 : 1;
}

/* /proc/net/route lists "lo 00000000 ..." for a default route via lo. */
static int default_route_via_lo(void)
{
    FILE *f = fopen("/proc/net/route", "r");
    char line[256];
    int found = 1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "lo\t00000000\t", 12) == 0)
            found = 0;
    if (f)
        fclose(f);
    return found;
}

TEST(netns_loopback_ruleset_and_sockets_arrive)
{
    struct netprep_opener openers[] = { { "udp", open_udp, NULL } };
    struct netprep_request req = { .ruleset = ruleset, .openers = openers, .n_openers = 1 };
    struct netprep np;
    struct cell_err err = { 0 };
    is_int(netprep_start(&req, &np, &err), 0, "%s", err.msg);
    int fd = netprep_netns_fd(&np, &err);
    ok(fd >= 0, "%s", err.msg);
    ok(netns_inode(fd) != own_netns_inode(), "a netns of its own");
    struct netprep_opened out[1];
    is_int(netprep_finish(&np, out, &err), 0, "%s", err.msg);
    is_int(out[0].r, 1, "one socket");
    is_int(out[0].n_fds, 1, "one socket");
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    ok(getsockname(out[0].fds[0], (struct sockaddr *)&a, &len) == 0 &&
           ntohs(a.sin_port) == TEST_PORT, "the bound socket came back");
    is_int(np.pid, 0, "the helper is reaped");
    is_int(probe_in(fd, loopback_is_up), 0, "loopback is up inside");
    is_int(probe_in(fd, default_route_via_lo), 1, "no route unless asked");
    struct nft_rule_counter *rules = NULL;
    int n = nft_read_counters(fd, "cellos_netprep_test", &rules, &err);
    is_int(n, 1, "the ruleset is in the new netns: %s", err.msg);
    free(rules);
    /* Our own netns was not touched: the same port is free here. */
    int probe = open_udp(NULL, (int[1]){ 0 }, 1, &err);
    is_int(probe, 1, "port free in the caller's netns");
    close(out[0].fds[0]);
    netprep_clear(&np);
    is_int(np.netns_fd, -1, "cleared");
}

TEST(default_route_through_loopback)
{
    struct netprep_request req = { .default_route = true };
    struct netprep np;
    struct cell_err err = { 0 };
    is_int(netprep_start(&req, &np, &err), 0, "%s", err.msg);
    is_int(netprep_finish(&np, NULL, &err), 0, "%s", err.msg);
    is_int(probe_in(np.netns_fd, default_route_via_lo), 0, "default dev lo");
    netprep_clear(&np);
}

TEST(a_bad_ruleset_fails_with_nfts_message)
{
    struct netprep_opener openers[] = { { "udp", open_udp, NULL } };
    struct netprep_request req = { .ruleset = "table inet x { chain y { nonsense; } }\n",
                                   .openers = openers, .n_openers = 1 };
    struct netprep np;
    struct cell_err err = { 0 };
    is_int(netprep_start(&req, &np, &err), 0, "%s", err.msg);
    struct netprep_opened out[1];
    ok(netprep_finish(&np, out, &err) < 0, "fails");
    ok(strstr(err.msg, "nft: apply ruleset") != NULL, "names the step: %s", err.msg);
    ok(strstr(err.msg, "nonsense") != NULL, "carries nft's error: %s", err.msg);
    is_int(out[0].n_fds, 0, "no sockets handed out");
    is_int(np.pid, 0, "reaped");
    netprep_clear(&np);
}

TEST(a_failing_opener_is_reported_not_fatal)
{
    struct netprep_opener openers[] = { { "bad", open_fails, NULL }, { "udp", open_udp, NULL } };
    struct netprep_request req = { .openers = openers, .n_openers = 2 };
    struct netprep np;
    struct cell_err err = { 0 };
    is_int(netprep_start(&req, &np, &err), 0, "%s", err.msg);
    struct netprep_opened out[2];
    is_int(netprep_finish(&np, out, &err), 0, "%s", err.msg);
    is_int(out[0].r, -EADDRINUSE, "the failure");
    is_str(out[0].msg, "the test opener refuses", "its message");
    is_int(out[1].r, 1, "the next opener still ran");
    close(out[1].fds[0]);
    netprep_clear(&np);
}

TEST(clear_kills_a_helper_nobody_waited_for)
{
    struct netprep_request req = { .ruleset = ruleset };
    struct netprep np;
    struct cell_err err = { 0 };
    is_int(netprep_start(&req, &np, &err), 0, "%s", err.msg);
    pid_t pid = np.pid;
    netprep_clear(&np);
    ok(kill(pid, 0) < 0 && errno == ESRCH, "no helper left");
    is_int(np.pid, 0, "cleared");
}

TAP_MAIN
