/* proxy.h: the SNI / HTTP Host egress proxy (CONTRACT sections 4 and 5),
 * served by the supervisor's event loop on one thread.
 *
 * The cell's firewall redirects its TCP connections to ports 80, 443 and the
 * declared egress ports to a local port where this proxy listens (sockets
 * made inside the cell's netns, served from the supervisor's). For each
 * connection:
 *
 *  1. the original destination is read back from conntrack
 *     (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST);
 *  2. a destination port in plain_ports (declared egress ports other than
 *     80/443) is relayed without L7 inspection when an egress entry admits
 *     (address, port): one on_flow report, verdict accept or reject;
 *  3. otherwise the first bytes are peeked (TLS ClientHello server_name, or
 *     the HTTP/1.x Host; l7/peek.h) into a buffer that grows up to
 *     peek_max, for at most peek_timeout_ms of silence; then
 *       the name must be admitted: the hostname allowlist, or an egress
 *         entry that names exactly this host for this port;
 *       the destination must be admitted: an address the DNS proxy returned
 *         for this very name during the run (dns_resolved), or an address an
 *         egress entry allows for this port;
 *     one on_decision report per connection, with the reason codes of
 *     CONTRACT section 5 (a name allowed towards a destination it was never
 *     resolved to is a *_allowlist_miss with detail "destination not resolved
 *     for host");
 *  4. allowed flows get an upstream connection from the supervisor's netns
 *     (non-blocking, connect_timeout_ms), the peeked bytes are replayed, and
 *     both directions are relayed with splice() through pipes; a half-close
 *     (EOF) becomes shutdown(SHUT_WR) on the other side, a reset becomes a
 *     reset (SO_LINGER 0) on the other side; idle_timeout_ms without a byte
 *     in either direction closes both;
 *  5. denied TLS (or unknown protocol) is closed; denied HTTP gets a 403
 *     with a one-line reason (502 when the upstream failed).
 *
 * Every accepted connection yields exactly one report: on_decision for an
 * inspected one (also when refused for the connection limit, when the
 * client closes or goes silent before a decision, or when the upstream
 * fails), on_flow for a plain one. See docs/l7-proxy.md.
 *
 * Ownership: listening fds, allowlist, resolved table and egress entries are
 * BORROWED (they outlive the proxy; l7_proxy_free unregisters the fds but
 * does not close them). Everything the proxy opens it closes.
 *
 * Listening sockets should have TCP_NODELAY set: accepted connections
 * inherit it, and the proxy should add no batching delay of its own.
 *
 * The process must ignore SIGPIPE (the supervisor does): splice() into a
 * socket the peer has closed raises it. */
#pragma once
#include <sys/socket.h>

#include "base/base.h"

struct loop;
struct hostmatch;
struct dns_resolved;

#define L7_PROXY_DEFAULT_PORT 15001
#define L7_PROXY_DEFAULT_MAX_CONNS 256
#define L7_PROXY_DEFAULT_PEEK_MAX 32768u        /* TLS_HELLO_PEEK_MAX_INPUT */
#define L7_PROXY_DEFAULT_PEEK_TIMEOUT_MS 5000
#define L7_PROXY_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define L7_PROXY_DEFAULT_IDLE_TIMEOUT_MS 300000
#define L7_PROXY_REFUSE_LINGER_MS 2000          /* a refused HTTP client's drain */

/* An egress entry as the proxy checks destinations. A literal or CIDR rule
 * is one entry (name NULL); a hostname rule is one entry per address it
 * resolved to at setup (family 0 when none), all carrying its name, so that
 * the name also admits addresses the DNS proxy returns for it later. */
struct l7_egress {
    int family;                 /* AF_INET, AF_INET6, or 0: no address */
    uint8_t addr[16];           /* network order, IPv4 in the first 4 bytes */
    uint8_t prefix_len;         /* 32 / 128 for a single address */
    uint16_t port;
    const char *name;           /* hostname rule: the name, lower case; else NULL */
    const char *label;          /* "egress[i] host:port/tcp", for reports */
};

/* One l7_egress_decision (CONTRACT section 5). Valid during the call. */
struct l7_decision_report {
    const char *host;           /* normalised host, NULL when none was read */
    const char *protocol;       /* "tls", "http", "unknown" */
    const char *decision;       /* "allow" / "deny" */
    const char *reason_code;    /* l7_sni_allowlist_match, ... l7_upstream_failed */
    const char *destination;    /* "203.0.113.7:443", "[2001:db8::7]:443" */
    const char *detail;         /* a few words on why, or NULL */
};

/* One plain (not inspected) TCP flow: a network_flow_decision. */
struct l7_flow_report {
    const char *verdict;        /* "accept" / "reject" */
    const char *rule;           /* the admitting entry's label, or "no egress rule" */
    const char *src_addr, *dst_addr;
    uint16_t src_port, dst_port;
    const char *detail;         /* NULL, or why the flow was refused */
};

struct l7_proxy_config {
    const int *listen_fds;      /* listening TCP sockets (borrowed) */
    size_t n_listen_fds;
    const struct hostmatch *allowlist;   /* NULL admits no name */
    const struct dns_resolved *resolved; /* NULL: no DNS proxy in this run */
    const struct l7_egress *egress;
    size_t n_egress;
    const uint16_t *plain_ports;         /* relayed without inspection */
    size_t n_plain_ports;
    void (*on_decision)(void *ctx, const struct l7_decision_report *r);  /* may be NULL */
    void (*on_flow)(void *ctx, const struct l7_flow_report *r);          /* may be NULL */
    void *report_ctx;
    /* 0 = the L7_PROXY_DEFAULT_* value. */
    unsigned max_conns;
    unsigned peek_max;          /* bytes; at most L7_PROXY_DEFAULT_PEEK_MAX is useful */
    unsigned peek_timeout_ms;
    unsigned connect_timeout_ms;
    unsigned idle_timeout_ms;
};

struct l7_proxy_counters {
    uint64_t connections;       /* accepted */
    uint64_t allowed, denied;   /* inspected: decisions (upstream failures among allowed) */
    uint64_t plain_accepted, plain_rejected;
    uint64_t upstream_failures;
    uint64_t peek_timeouts;
    uint64_t limit_refusals;    /* over max_conns */
    uint64_t idle_closed;
    uint64_t resets;            /* resets propagated from one side to the other */
    uint64_t bytes_up, bytes_down;  /* relayed: cell -> upstream, upstream -> cell */
};

struct l7_proxy;

/* Register the listening fds on the loop. -errno with err filled (reason
 * "invalid_spec" for a bad config); nothing is left registered on failure. */
int l7_proxy_new(struct loop *loop, const struct l7_proxy_config *cfg, struct l7_proxy **out,
                 struct cell_err *err);

/* Close every connection (without reports), unregister the listening fds
 * (not closed). NULL is fine. */
void l7_proxy_free(struct l7_proxy *p);

void l7_proxy_get_counters(const struct l7_proxy *p, struct l7_proxy_counters *out);
/* Connections open now (peeking, connecting or relaying). */
size_t l7_proxy_active(const struct l7_proxy *p);

/* "203.0.113.7:443" / "[2001:db8::7]:443" (out at least L7_ADDR_TEXT_MAX). */
#define L7_ADDR_TEXT_MAX 56
void l7_addr_text(const struct sockaddr_storage *ss, char out[L7_ADDR_TEXT_MAX]);

static inline void l7_proxy_freep(struct l7_proxy **p) { l7_proxy_free(*p); }
#define _cleanup_l7_proxy_ _cleanup_(l7_proxy_freep)
