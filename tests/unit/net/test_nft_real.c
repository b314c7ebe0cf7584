/* test_nft_real.c: rulesets applied for real with libnftables, as root, each
 * inside a throwaway network namespace made by the netprep helper
 * (tests/helpers/netns_fixture.c). Only loopback is up there; the one
 * default route points at lo, so nothing sent inside can ever leave. The
 * namespace, and the table with it, is gone once the last fd is closed. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/timeutil.h"
#include "net/nft.h"
#include "nft_cases.h"
#include "netns_fixture.h"
#include "tap.h"

#define PORT_ALLOWED 47001
#define PORT_DENIED 47002
#define PORT_PROXY 53053

static int new_netns(void)
{
    return test_netns_new(true);
}

static int home_netns = -1;

static void enter(int fd) { ok(setns(fd, CLONE_NEWNET) == 0, "setns into the cell"); }
static void leave(void)
{
    if (setns(home_netns, CLONE_NEWNET) < 0)
        abort();
}

static const char *not_root(void)
{
    if (geteuid() != 0)
        return "needs root";
    if (home_netns < 0)
        home_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    return home_netns < 0 ? "no /proc/self/ns/net" : NULL;
}

/* ---- sockets (run inside the cell's netns) ----------------------------------- */

static struct sockaddr_in sin4(const char *addr, uint16_t port)
{
    struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, addr, &s.sin_addr);
    return s;
}

static int bound(int type, const char *addr, uint16_t port)
{
    int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = sin4(addr, port);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        (type == SOCK_STREAM && listen(s, 4) < 0)) {
        if (s >= 0)
            close(s);
        return -1;
    }
    return s;
}

/* connect() with a 2 s ceiling; returns 0 or -errno and how long it took. */
static int tcp_connect(const char *addr, uint16_t port, uint64_t *ms)
{
    _cleanup_close_ int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin4(addr, port);
    uint64_t t0 = now_mono_ms();
    int rc = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : -errno;
    if (rc == -EINPROGRESS) {
        struct pollfd p = { .fd = s, .events = POLLOUT };
        int soerr = ETIMEDOUT;
        socklen_t len = sizeof(soerr);
        if (poll(&p, 1, 2000) == 1)
            getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &len);
        rc = -soerr;
    }
    *ms = now_mono_ms() - t0;
    return rc;
}

static bool udp_arrives(int rx, const char *addr, uint16_t port)
{
    _cleanup_close_ int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = sin4(addr, port);
    if (sendto(tx, "q", 1, 0, (struct sockaddr *)&a, sizeof(a)) != 1)
        return false;
    struct pollfd p = { .fd = rx, .events = POLLIN };
    char c;
    return poll(&p, 1, 300) == 1 && recv(rx, &c, 1, 0) == 1;
}

/* ---- counters ---------------------------------------------------------------- */

static const struct nft_rule_counter *find(const struct nft_rule_counter *c, int n,
                                           const char *comment)
{
    for (int i = 0; i < n; i++)
        if (strcmp(c[i].comment, comment) == 0)
            return &c[i];
    return NULL;
}

static uint64_t packets(const struct nft_rule_counter *c, int n, const char *comment)
{
    const struct nft_rule_counter *r = find(c, n, comment);
    ok(r != NULL, "rule \"%s\" listed", comment);
    return r ? r->packets : 0;
}

/* ---- tests ------------------------------------------------------------------- */

TEST(every_golden_case_loads)
{
    const char *why = not_root();
    if (why)
        skip_test(why);
    for (size_t i = 0; i < nft_case_count; i++) {
        _cleanup_free_ char *text = NULL;
        ok(nft_render(&nft_cases[i].policy, &text, NULL) == 0, "render %s", nft_cases[i].name);
        _cleanup_close_ int ns = new_netns();
        ok(ns >= 0, "netns: %s", strerror(-ns));
        if (ns < 0 || !text)
            continue;
        struct cell_err err = { 0 };
        int rc = nft_apply_in_netns(ns, text, &err);
        is_int(rc, 0, "apply %s: %s", nft_cases[i].name, err.msg);
    }
}

TEST(bad_ruleset_reports_libnftables_error)
{
    const char *why = not_root();
    if (why)
        skip_test(why);
    _cleanup_close_ int ns = new_netns();
    ok(ns >= 0, "netns");
    struct cell_err err = { 0 };
    int rc = nft_apply_in_netns(ns, "table inet t {\n\tchain c {\n\t\tbogus\n\t}\n}\n", &err);
    ok(rc < 0, "rejected");
    ok(strstr(err.msg, "nft: apply ruleset: ") == err.msg && strlen(err.msg) > 22,
       "libnftables says why: %s", err.msg);
    _cleanup_close_ int here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    struct stat a, b;
    ok(fstat(here, &a) == 0 && fstat(home_netns, &b) == 0 && a.st_ino == b.st_ino,
       "back in the home netns after a failure");
    is_int(nft_apply_in_netns(-1, "x", &err), -EINVAL, "bad fd");
}

static void run_enforcement_checks(int ns)
{
    enter(ns);
    _cleanup_close_ int allowed = bound(SOCK_STREAM, "127.0.0.1", PORT_ALLOWED);
    _cleanup_close_ int denied = bound(SOCK_STREAM, "127.0.0.1", PORT_DENIED);
    _cleanup_close_ int proxy = bound(SOCK_DGRAM, "127.0.0.1", PORT_PROXY);
    ok(allowed >= 0 && denied >= 0 && proxy >= 0, "listeners");

    uint64_t ms = 0;
    int rc = tcp_connect("127.0.0.1", PORT_ALLOWED, &ms);
    is_int(rc, 0, "allowed connect: %s", strerror(-rc));
    rc = tcp_connect("127.0.0.1", PORT_DENIED, &ms);
    ok(rc == -ECONNREFUSED || rc == -EPERM || rc == -EHOSTUNREACH,
       "denied connect fails: %s", strerror(-rc));
    ok(ms < 100, "denied connect fails at once (%llu ms)", (unsigned long long)ms);

    ok(udp_arrives(proxy, "8.8.8.8", 53), "udp 8.8.8.8:53 lands at the proxy");
    ok(udp_arrives(proxy, "127.0.0.1", PORT_PROXY), "udp to the proxy itself");
    ok(!udp_arrives(proxy, "8.8.8.8", 853), "udp 8.8.8.8:853 goes nowhere");
    leave();
}

TEST(enforcement_in_a_real_netns)
{
    const char *why = not_root();
    if (why)
        skip_test(why);
    static const struct nft_egress egress[] = {
        { "127.0.0.1", PORT_ALLOWED, NFT_L4_TCP, "allowed.test:47001/tcp" } };
    static const struct nft_endpoint proxy[] = { { "127.0.0.1", PORT_PROXY } };
    const struct nft_policy p = { .cell_id = "real-test", .egress = egress, .n_egress = 1,
                                  .dns_proxies = proxy, .n_dns_proxies = 1,
                                  .block_direct_dns = true };
    _cleanup_free_ char *text = NULL;
    ok(nft_render(&p, &text, NULL) == 0, "render");
    int ns = new_netns();
    ok(ns >= 0, "netns");
    if (ns < 0 || !text)
        return;
    struct cell_err err = { 0 };
    int rc = nft_apply_in_netns(ns, text, &err);
    is_int(rc, 0, "apply: %s", err.msg);
    if (rc == 0)
        run_enforcement_checks(ns);

    struct nft_rule_counter *c = NULL;
    int n = nft_read_counters(ns, "cellos_real_test", &c, &err);
    ok(n > 0, "counters: %s", err.msg);
    if (n > 0) {
        ok(packets(c, n, "egress[0] allowed.test:47001/tcp") > 0, "allowed rule hit");
        ok(packets(c, n, "reject tcp") > 0, "tcp reject hit");
        ok(packets(c, n, "dns-redirect ipv4") > 0, "dns redirect hit");
        ok(packets(c, n, "dns-proxy[0] 127.0.0.1:53053") > 0, "proxy accept hit");
        ok(packets(c, n, "block-direct-dns ipv4") > 0, "DoT block hit");
        const struct nft_rule_counter *r = find(c, n, "reject tcp");
        ok(r && r->bytes > 0 && r->handle > 0 && strcmp(r->chain, "output") == 0,
           "bytes, handle and chain filled");
    }
    free(c);
    close(ns);

    /* The host never saw the table. */
    c = NULL;
    n = nft_read_counters(home_netns, "cellos_real_test", &c, &err);
    ok(n < 0, "no cellos_real_test table in the host netns");
    free(c);
}

TEST(read_counters_of_a_missing_table)
{
    const char *why = not_root();
    if (why)
        skip_test(why);
    _cleanup_close_ int ns = new_netns();
    struct nft_rule_counter *c = NULL;
    struct cell_err err = { 0 };
    ok(nft_read_counters(ns, "cellos_nothing", &c, &err) < 0, "error");
    ok(c == NULL, "no output");
    ok(strstr(err.msg, "list table") != NULL, "says what failed: %s", err.msg);
}
