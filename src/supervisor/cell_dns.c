#include "cell_dns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "dns/answers.h"
#include "net/netns.h"
#include "net/netprep.h"
#include "policy/hostmatch.h"

/* "127.0.0.1:53" or "[::1]:53" into a socket address. */
static int parse_endpoint(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(text, ':');
    uint64_t port;
    if (!colon || parse_u64(colon + 1, &port) < 0 || port == 0 || port > 65535)
        return -EINVAL;
    size_t n = (size_t)(colon - text);
    if (n >= sizeof(host))
        return -EINVAL;
    memcpy(host, text, n);
    host[n] = '\0';
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof(*in4);
        return 0;
    }
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons((uint16_t)port);
            *len = sizeof(*in6);
            return 0;
        }
    }
    return -EINVAL;
}

static void add_listen(struct cell_dns *dns, int family, const void *addr, uint16_t port)
{
    size_t i = dns->n_listen;
    if (i >= NFT_MAX_ENDPOINTS)
        return;
    inet_ntop(family, addr, dns->listen_text[i], INET6_ADDRSTRLEN);
    struct sockaddr_storage *ss = &dns->listen_addr[i];
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        memcpy(&in4->sin_addr, addr, 4);
        dns->listen_len[i] = sizeof(*in4);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        memcpy(&in6->sin6_addr, addr, 16);
        dns->listen_len[i] = sizeof(*in6);
    }
    dns->listen[i] = (struct nft_endpoint){ .addr = dns->listen_text[i], .port = port };
    dns->n_listen++;
}

int cell_dns_plan(struct cell_dns *dns, const struct cell_spec *spec, const struct sup_config *cfg,
                  bool netns, struct cell_err *err)
{
    memset(dns, 0, sizeof(*dns));
    dns->cell_netns_fd = -1;
    if (!cfg->dns_proxy || !spec->dns.present || !netns)
        return 0;
    dns->enabled = true;
    const struct dns_authority *a = &spec->dns;
    for (size_t i = 0; i < a->n_resolvers && i < NFT_MAX_ENDPOINTS; i++) {
        add_listen(dns, a->resolvers[i].family, a->resolvers[i].addr, a->resolvers[i].port);
        dns_proxy_resolver_from_spec(&a->resolvers[i], &dns->resolvers[i]);
        dns->n_resolvers++;
    }
    /* Also 127.0.0.1:53, unless declared: /etc/resolv.conf cannot name a
     * port, so that is where the cell's resolver library asks. */
    struct in_addr lo = { htonl(INADDR_LOOPBACK) };
    bool have_lo53 = false;
    for (size_t i = 0; i < dns->n_listen; i++)
        have_lo53 |= strcmp(dns->listen_text[i], "127.0.0.1") == 0 && dns->listen[i].port == 53;
    if (!have_lo53)
        add_listen(dns, AF_INET, &lo, 53);
    dns->first_resolver_id = a->n_resolvers ? a->resolvers[0].resolver_id : NULL;
    dns->qtypes = a->allowed_qtypes;
    dns->n_qtypes = a->n_allowed_qtypes;
    if (cfg->dns_upstream_override) {
        struct dns_proxy_resolver *r = &dns->resolvers[0];
        if (parse_endpoint(cfg->dns_upstream_override, &r->addr, &r->addr_len) < 0)
            return cell_err_set(err, EINVAL, "isolation_failed",
                                "CELLOS_DNS_PROXY_UPSTREAM_OVERRIDE=%s: must be ip:port or [ip6]:port",
                                cfg->dns_upstream_override);
        if (!dns->n_resolvers) {
            r->resolver_id = "override";
            dns->n_resolvers = 1;
        }
        dns->override = true;
    }
    dns->allow = hostmatch_new((const char *const *)a->hostname_allowlist,
                               a->n_hostname_allowlist, err);
    return dns->allow ? 0 : -EINVAL;
}

static int bound_socket(const struct sockaddr_storage *ss, socklen_t len, int type)
{
    int fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* A declared resolver address need not exist in the cell: bind anyway. */
    setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
        (type == SOCK_STREAM && listen(fd, 64) < 0)) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* Runs in the netprep helper, inside the cell's new netns: a UDP and a TCP
 * socket per endpoint, in that order. */
static int open_listeners(void *ctx, int *fds, size_t max, struct cell_err *err)
{
    struct cell_dns *dns = ctx;
    size_t n = 0;
    for (size_t i = 0; i < dns->n_listen && n + 2 <= max; i++) {
        for (int k = 0; k < 2; k++) {
            int fd = bound_socket(&dns->listen_addr[i], dns->listen_len[i],
                                  k == 0 ? SOCK_DGRAM : SOCK_STREAM);
            if (fd < 0)
                return cell_err_set(err, -fd, "upstream_failure",
                                    "the DNS proxy cannot listen on %s:%u in the cell: %s",
                                    dns->listen_text[i], dns->listen[i].port, strerror(-fd));
            fds[n++] = fd;
        }
    }
    return (int)n;
}

struct netprep_opener cell_dns_opener(struct cell_dns *dns)
{
    return (struct netprep_opener){ .name = "DNS proxy", .open = open_listeners, .ctx = dns };
}

int cell_dns_adopt(struct cell_dns *dns, const struct netprep_opened *opened, int cell_netns_fd,
                   struct cell_err *err)
{
    dns->cell_netns_fd = cell_netns_fd;
    if (opened->r < 0)
        return cell_err_set(err, -opened->r, "upstream_failure", "%s", opened->msg);
    for (size_t i = 0; i + 1 < opened->n_fds; i += 2) {
        dns->udp_fds[dns->n_open] = opened->fds[i];
        dns->tcp_fds[dns->n_open++] = opened->fds[i + 1];
    }
    return 0;
}

struct socket_request {
    int family, type, fd;
};

static int make_socket(void *ctx, struct cell_err *err)
{
    struct socket_request *q = ctx;
    q->fd = socket(q->family, q->type | SOCK_CLOEXEC, 0);
    return q->fd < 0 ? -errno : 0;
}

/* Upstream sockets: from the supervisor's netns, or with the override from
 * inside the cell (where a test's or the cell's own resolver lives). */
static int upstream_socket(void *ctx, int family, int type)
{
    struct cell_dns *dns = ctx;
    struct socket_request q = { family, type, -1 };
    struct cell_err err;
    int r = dns->override ? netns_run(dns->cell_netns_fd, make_socket, &q, &err)
                          : make_socket(&q, &err);
    return r < 0 ? r : q.fd;
}

static void report(void *ctx, const struct dns_query_report *q)
{
    struct cell_dns *dns = ctx;
    json_t *d = json_object();
    json_object_set_new(d, "queryName", q->query_name ? json_string(q->query_name) : json_null());
    json_object_set_new(d, "queryType", q->query_type ? json_string(q->query_type) : json_null());
    json_object_set_new(d, "decision", json_string(q->decision));
    json_object_set_new(d, "reasonCode", json_string(q->reason_code));
    json_object_set_new(d, "upstreamResolverId", q->upstream_resolver_id
                                                     ? json_string(q->upstream_resolver_id)
                                                     : json_null());
    if (q->response_rcode >= 0)
        json_object_set_new(d, "responseRcode", json_integer(q->response_rcode));
    json_object_set_new(d, "transport", json_string(q->transport));
    event_bus_emit(dns->bus, EV_DNS_QUERY, d);
}

/* Every answer relayed: its addresses become admissible destinations for
 * the name in the L7 proxy (a malformed answer adds nothing). */
static void record_answer(void *ctx, const char *qname, const uint8_t *msg, size_t len)
{
    (void)dns_resolved_add_response(ctx, qname, msg, len);
}

int cell_dns_start(struct cell_dns *dns, struct loop *loop, struct event_bus *bus,
                   struct cell_err *err)
{
    if (!dns->enabled || !dns->n_open)
        return 0;
    dns->bus = bus;
    struct dns_proxy_config cfg = {
        .udp_fds = dns->udp_fds, .n_udp_fds = dns->n_open,
        .tcp_fds = dns->tcp_fds, .n_tcp_fds = dns->n_open,
        .resolvers = dns->resolvers, .n_resolvers = dns->n_resolvers,
        .upstream_socket = upstream_socket, .upstream_ctx = dns,
        .allowlist = dns->allow,
        .allowed_qtypes = dns->qtypes, .n_allowed_qtypes = dns->n_qtypes,
        .on_query = report, .on_query_ctx = dns,
        .on_answer = dns->answers ? record_answer : NULL, .on_answer_ctx = dns->answers,
    };
    return dns_proxy_new(loop, &cfg, &dns->proxy, err);
}

char *cell_dns_resolv_conf(const struct cell_dns *dns)
{
    if (!dns->enabled || !dns->n_listen)
        return NULL;
    return xstrdup("# written by cellos: the cell's DNS proxy\nnameserver 127.0.0.1\n");
}

void cell_dns_counts(const struct cell_dns *dns, json_t *into)
{
    if (!dns->proxy)
        return;
    struct dns_proxy_counters c;
    dns_proxy_get_counters(dns->proxy, &c);
    json_object_set_new(into, "dnsQueries",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "allowed", (json_int_t)c.allowed,
                                  "denied", (json_int_t)c.denied, "malformed",
                                  (json_int_t)c.malformed, "upstreamTimeouts",
                                  (json_int_t)c.upstream_timeouts, "upstreamFailures",
                                  (json_int_t)c.upstream_failures));
}

void cell_dns_clear(struct cell_dns *dns)
{
    dns_proxy_free(dns->proxy);
    for (size_t i = 0; i < dns->n_open; i++) {
        close(dns->udp_fds[i]);
        close(dns->tcp_fds[i]);
    }
    hostmatch_free(dns->allow);
    memset(dns, 0, sizeof(*dns));
    dns->cell_netns_fd = -1;
}
