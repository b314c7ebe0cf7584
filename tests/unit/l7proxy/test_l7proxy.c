/* test_l7proxy.c: the SNI / HTTP egress proxy for real, as root.
 *
 * The test process first moves into a network namespace of its own (the
 * "supervisor's"), with 198.18.0.0/24 and 2001:db8::7 on its loopback where
 * echo servers listen on 80, 443 and 5432. A cell netns is then prepared by
 * netprep exactly as the supervisor does it: loopback, a default route
 * through it, the real rendered ruleset (redirect of 80/443/5432 to the
 * proxy's port) and the proxy's listening sockets made inside. A client
 * thread setns()es into the cell and connects to 198.18.0.x as a workload
 * would; the proxy runs on a loop in the main thread, recovers the original
 * destination through conntrack, decides, and dials the echo servers from
 * the test's own netns. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "base/timeutil.h"
#include "fixture.h"

/* ---- tests ------------------------------------------------------------------- */

TEST(tls_allowed_name_to_its_address_is_relayed_both_ways)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    struct client c = { 0 };
    struct l7_proxy_counters k = exchange(SERVER, 443, hello, n, &c);
    is_int(c.got_len, (ssize_t)n, "the hello came back through the echo server");
    ok(memcmp(c.got, hello, n) == 0, "byte for byte (peeked bytes replayed)");
    ok(c.eof, "the half-close went through and came back");
    is_int(n_reports, 1, "one decision");
    is_str(reports[0].decision, "allow", "allowed");
    is_str(reports[0].reason, "l7_sni_allowlist_match", "reason");
    is_str(reports[0].host, "api.example.com", "host");
    is_str(reports[0].protocol, "tls", "protocol");
    is_str(reports[0].destination, SERVER ":443", "original destination from conntrack");
    is_int(k.bytes_up, n, "counted up");
    is_int(k.bytes_down, n, "counted down");
}

TEST(tls_name_not_on_the_allowlist_is_closed)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("evil.example.com", hello);
    struct client c = { 0 };
    exchange(SERVER, 443, hello, n, &c);
    is_int(c.got_len, 0, "nothing comes back");
    is_int(n_reports, 1, "one decision");
    is_str(reports[0].decision, "deny", "denied");
    is_str(reports[0].reason, "l7_sni_allowlist_miss", "reason");
    is_str(reports[0].host, "evil.example.com", "host");
}

TEST(allowed_sni_to_an_address_never_resolved_for_it_is_refused)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    struct client c = { 0 };
    exchange(SERVER_NOT_RESOLVED, 443, hello, n, &c);
    is_int(c.got_len, 0, "the echo server there never answers");
    is_int(n_reports, 1, "one decision");
    is_str(reports[0].decision, "deny", "denied");
    is_str(reports[0].reason, "l7_sni_allowlist_miss", "reason");
    is_str(reports[0].detail, "destination not resolved for host", "why");
    is_str(reports[0].destination, SERVER_NOT_RESOLVED ":443", "destination");
}

TEST(ipv6_original_destination)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    struct client c = { 0 };
    exchange(SERVER6, 443, hello, n, &c);
    is_int(c.got_len, (ssize_t)n, "relayed over IPv6");
    is_str(reports[0].destination, "[" SERVER6 "]:443", "IP6T_SO_ORIGINAL_DST");
    is_str(reports[0].reason, "l7_sni_allowlist_match", "allowed");
}

TEST(http_allowed_host_is_relayed)
{
    SETUP();
    const char *req = "GET / HTTP/1.1\r\nHost: API.example.com.\r\nUser-Agent: t\r\n\r\n";
    struct client c = { 0 };
    exchange(SERVER, 80, req, strlen(req), &c);
    is_str(c.got, req, "the request came back");
    is_str(reports[0].reason, "l7_http_host_allowlist_match", "reason");
    is_str(reports[0].host, "api.example.com", "normalised host");
    is_str(reports[0].protocol, "http", "protocol");
}

TEST(http_denied_host_gets_403_with_a_reason)
{
    SETUP();
    const char *req = "GET / HTTP/1.1\r\nHost: evil.example.com\r\n\r\nbody";
    struct client c = { 0 };
    exchange(SERVER, 80, req, strlen(req), &c);
    ok(strncmp(c.got, "HTTP/1.1 403 Forbidden\r\n", 24) == 0, "403: %s", c.got);
    ok(strstr(c.got, "l7_http_host_allowlist_miss") != NULL, "the reason is in the body");
    ok(c.eof, "then closed cleanly");
    is_str(reports[0].reason, "l7_http_host_allowlist_miss", "reason");
}

TEST(http_without_host_is_403_host_missing)
{
    SETUP();
    const char *req = "GET / HTTP/1.0\r\n\r\n";
    struct client c = { 0 };
    exchange(SERVER, 80, req, strlen(req), &c);
    ok(strncmp(c.got, "HTTP/1.1 403", 12) == 0, "403");
    is_str(reports[0].reason, "l7_http_host_missing", "reason");
    is_str(reports[0].host, "(null)", "no host");
}

TEST(unknown_protocol_is_closed)
{
    SETUP();
    struct client c = { 0 };
    exchange(SERVER, 443, "\x00\x01garbage", 9, &c);
    is_int(c.got_len, 0, "nothing back");
    is_str(reports[0].reason, "l7_unknown_protocol", "reason");
    is_str(reports[0].protocol, "unknown", "protocol");
}

static void silent(struct client *c)
{
    int fd = dial(SERVER, 443);
    uint64_t t = now_mono_ms();
    read_to_eof(c, fd);
    c->ms = now_mono_ms() - t;
    close(fd);
}

TEST(silence_is_a_peek_timeout)
{
    SETUP();
    struct client c = { .fn = silent };
    struct l7_proxy_counters k = run_client((struct l7_proxy_config){ .peek_timeout_ms = 300 },
                                            &c, 0);
    ok(c.eof && c.ms >= 250 && c.ms < 3000, "closed after the peek timeout (%llu ms)",
       (unsigned long long)c.ms);
    is_str(reports[0].reason, "l7_peek_timeout", "reason");
    is_int(k.peek_timeouts, 1, "counted");
}

TEST(a_hello_larger_than_the_peek_buffer_is_refused)
{
    SETUP();
    uint8_t big[1024] = { 0x16, 3, 1, 0x3f, 0xff, 1, 0, 0x3f, 0xfb };
    memset(big + 9, 0x41, sizeof(big) - 9);
    c_ip = SERVER;
    c_port = 443;
    c_send = big;
    c_send_len = sizeof(big);
    struct client c = { .fn = send_then_read };
    run_client((struct l7_proxy_config){ .peek_max = 256 }, &c, 50);
    is_str(reports[0].reason, "l7_sni_missing", "reason");
    is_str(reports[0].detail, "peek buffer full", "why");
}

TEST(plain_port_relayed_when_an_egress_rule_admits_it)
{
    SETUP();
    struct client c = { 0 };
    struct l7_proxy_counters k = exchange(DB, 5432, "hello db", 8, &c);
    is_str(c.got, "hello db", "relayed without inspection");
    ok(reports[0].flow, "a flow report");
    is_str(reports[0].verdict, "accept", "accepted");
    is_str(reports[0].rule, "egress[0] db:5432/tcp", "the rule");
    is_str(reports[0].destination, DB ":5432", "destination");
    is_int(k.plain_accepted, 1, "counted");
}

TEST(plain_port_to_another_address_is_reset)
{
    SETUP();
    struct client c = { 0 };
    exchange(DB_OTHER, 5432, "hello", 5, &c);
    is_int(c.got_len, 0, "nothing");
    is_int(c.err, ECONNRESET, "reset");
    is_str(reports[0].verdict, "reject", "rejected");
    is_str(reports[0].rule, "no egress rule", "no rule");
}

TEST(upstream_refusing_is_l7_upstream_failed_and_a_reset)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("dead.example.com", hello);
    struct client c = { 0 };
    struct l7_proxy_counters k = exchange(DEAD, 443, hello, n, &c);
    is_int(c.err, ECONNRESET, "the client sees a reset");
    is_str(reports[0].reason, "l7_upstream_failed", "reason");
    is_str(reports[0].decision, "allow", "the policy allowed it");
    is_int(k.upstream_failures, 1, "counted");
}

/* The echo server resets a connection whose first bytes are RESET: send the
 * head, wait for its echo, then RESET as a segment of its own. */
static void reset_by_upstream(struct client *cl)
{
    const char *req = "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n";
    int fd = dial(SERVER, 80);
    send(fd, req, strlen(req), MSG_NOSIGNAL);
    char buf[256];
    ssize_t n = 0, want = (ssize_t)strlen(req);
    while (n < want) {
        ssize_t r = recv(fd, buf + n, sizeof(buf) - (size_t)n, 0);
        if (r <= 0)
            break;
        n += r;
    }
    send(fd, "RESET", 5, MSG_NOSIGNAL);
    read_to_eof(cl, fd);
    close(fd);
}

TEST(upstream_reset_reaches_the_client_as_a_reset)
{
    SETUP();
    struct client c = { .fn = reset_by_upstream };
    struct l7_proxy_counters k = run_client((struct l7_proxy_config){ 0 }, &c, 50);
    is_int(c.err, ECONNRESET, "reset propagated");
    is_int(k.resets, 1, "counted");
}

static void hold_five(struct client *c)
{
    int fds[5];
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    for (int i = 0; i < 5; i++)
        fds[i] = dial(SERVER, 443);
    /* The first four are being peeked; the fifth is over the limit. */
    read_to_eof(c, fds[4]);
    for (int i = 0; i < 4; i++) {
        send(fds[i], hello, n, MSG_NOSIGNAL);
        close(fds[i]);
    }
    close(fds[4]);
}

TEST(connection_limit_refuses_cleanly_with_a_report)
{
    SETUP();
    struct client c = { .fn = hold_five };
    struct l7_proxy_counters k = run_client((struct l7_proxy_config){ .max_conns = 4 }, &c, 100);
    is_int(c.err, ECONNRESET, "the fifth is reset");
    is_int(k.limit_refusals, 1, "one refusal");
    bool seen = false;
    for (size_t i = 0; i < n_reports; i++)
        seen |= strcmp(reports[i].detail, "connection limit reached") == 0 &&
                strcmp(reports[i].decision, "deny") == 0;
    ok(seen, "reported");
}

static void idle(struct client *c)
{
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    int fd = dial(SERVER, 443);
    send(fd, hello, n, MSG_NOSIGNAL);
    uint64_t t = now_mono_ms();
    read_to_eof(c, fd);   /* the echo, then EOF at the idle timeout */
    c->ms = now_mono_ms() - t;
    close(fd);
}

TEST(idle_flow_is_closed_after_the_idle_timeout)
{
    SETUP();
    struct client c = { .fn = idle };
    struct l7_proxy_counters k = run_client((struct l7_proxy_config){ .idle_timeout_ms = 300 },
                                            &c, 0);
    ok(c.eof && c.ms >= 250 && c.ms < 3000, "closed at the idle timeout (%llu ms)",
       (unsigned long long)c.ms);
    is_int(k.idle_closed, 1, "counted");
}

struct bulk {
    int fd;
    size_t total;
};

static uint8_t pattern_at(uint64_t off) { return (uint8_t)(off * 7 + 3); }

static void *bulk_writer(void *arg)
{
    struct bulk *b = arg;
    static uint8_t chunk[65536];
    size_t sent = 0;
    while (sent < b->total) {
        for (size_t i = 0; i < sizeof(chunk); i++)
            chunk[i] = pattern_at(sent + i);
        size_t off = 0;
        while (off < sizeof(chunk)) {
            ssize_t n = send(b->fd, chunk + off, sizeof(chunk) - off, MSG_NOSIGNAL);
            if (n <= 0)
                goto out;
            off += (size_t)n;
        }
        sent += sizeof(chunk);
    }
out:
    shutdown(b->fd, SHUT_WR);
    return NULL;
}

static void bulk(struct client *c)
{
    const char *head = "POST / HTTP/1.1\r\nHost: api.example.com\r\n\r\n";
    int fd = dial(SERVER, 80);
    send(fd, head, strlen(head), MSG_NOSIGNAL);
    char back[128];
    size_t got = 0, hl = strlen(head);
    while (got < hl) {
        ssize_t r = recv(fd, back + got, hl - got, 0);
        if (r <= 0)
            return;
        got += (size_t)r;
    }
    struct bulk b = { fd, 16u << 20 };
    pthread_t w;
    pthread_create(&w, NULL, bulk_writer, &b);
    uint8_t buf[65536];
    uint64_t off = 0;
    bool good = true;
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r && good; i++)
            good = buf[i] == pattern_at(off + (uint64_t)i);
        off += (uint64_t)r;
    }
    pthread_join(w, NULL);
    c->bulk_bytes = off;
    c->bulk_ok = good;
    close(fd);
}

TEST(bulk_both_ways_byte_exact)
{
    SETUP();
    struct client c = { .fn = bulk };
    run_client((struct l7_proxy_config){ 0 }, &c, 50);
    is_int(c.bulk_bytes, 16u << 20, "16 MiB echoed");
    ok(c.bulk_ok, "byte-exact");
}

/* The upstream writes 8 MiB and hangs up while the client is not reading:
 * the proxy holds bytes in its pipe with the upstream gone, and must still
 * deliver every byte, then the EOF. */
static void slow_reader(struct client *c)
{
    int fd = dial(DB, 5432);
    send(fd, "BIG", 3, MSG_NOSIGNAL);
    struct timespec ts = { 0, 300 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            c->eof = n == 0;
            c->err = n < 0 ? errno : 0;
            break;
        }
        c->bulk_bytes += (uint64_t)n;
    }
    close(fd);
}

TEST(upstream_hangs_up_with_bytes_in_flight)
{
    SETUP();
    struct client c = { .fn = slow_reader };
    run_client((struct l7_proxy_config){ 0 }, &c, 0);
    is_int(c.bulk_bytes, 8u << 20, "every byte");
    ok(c.eof, "then EOF (err %d)", c.err);
}

/* Out of descriptors at accept: the listeners pause instead of spinning on
 * the queued connection, and serve it once descriptors are back. The
 * clients are a forked process (its own descriptor table and limit). */
static struct rlimit saved_nofile;
static struct l7_proxy *paused_proxy;
static struct l7_proxy_counters while_tight;

static void restore_nofile(struct loop *loop, void *userdata)
{
    (void)loop;
    (void)userdata;
    l7_proxy_get_counters(paused_proxy, &while_tight);
    setrlimit(RLIMIT_NOFILE, &saved_nofile);
}

/* The lowest free descriptor: with the limit there, no new one can be made. */
static int lowest_free_fd(void)
{
    int fd = dup(0);
    close(fd);
    return fd;
}

TEST(out_of_descriptors_pauses_accepting_without_spinning)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    int sync_pipe[2];
    ok(pipe(sync_pipe) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(sync_pipe[0]);
        if (setns(cell_netns, CLONE_NEWNET) < 0)
            _exit(2);
        int got = 0;
        int fds[3];
        for (int i = 0; i < 3; i++) {
            fds[i] = dial(SERVER, 443);
            send(fds[i], hello, n, MSG_NOSIGNAL);
        }
        (void)!write(sync_pipe[1], "x", 1);
        for (int i = 0; i < 3; i++) {
            char buf[1024];
            ssize_t r = recv(fds[i], buf, n, MSG_WAITALL); /* the echo: exactly n bytes */
            got += r == (ssize_t)n && memcmp(buf, hello, n) == 0;
        }
        _exit(got == 3 ? 0 : 1);
    }
    close(sync_pipe[1]);
    struct loop *loop = NULL;
    struct l7_proxy *p = NULL;
    struct cell_err err = { 0 };
    loop_new(&loop);
    struct l7_proxy_config cfg = { .listen_fds = listen_fds, .n_listen_fds = n_listen,
                                   .allowlist = allow, .resolved = resolved };
    is_int(l7_proxy_new(loop, &cfg, &p, &err), 0, "%s", err.msg);
    char x;
    ok(read(sync_pipe[0], &x, 1) == 1, "the clients are connected and waiting");
    close(sync_pipe[0]);
    paused_proxy = p;
    getrlimit(RLIMIT_NOFILE, &saved_nofile);
    struct rlimit tight = saved_nofile;
    tight.rlim_cur = (rlim_t)lowest_free_fd();   /* no room for one more */
    setrlimit(RLIMIT_NOFILE, &tight);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    loop_add_timer(loop, 400, restore_nofile, NULL);
    loop_add_timer(loop, 2000, on_test_timeout, NULL);
    loop_run(loop);
    getrusage(RUSAGE_SELF, &after);
    int status = -1;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "all three served once descriptors were back");
    double cpu = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec) +
                 (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec) / 1e6 +
                 (double)(after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
                 (double)(after.ru_stime.tv_usec - before.ru_stime.tv_usec) / 1e6;
    ok(cpu < 0.5, "no spinning while paused: %.3f s of CPU in 2 s", cpu);
    struct l7_proxy_counters k;
    l7_proxy_get_counters(p, &k);
    is_int(while_tight.connections, 0, "nothing accepted while out of descriptors");
    is_int(k.allowed, 3, "then decided as usual");
    l7_proxy_free(p);
    loop_free(loop);
}

TAP_MAIN
