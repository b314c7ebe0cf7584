/* proxy.h: the in-cell DNS proxy (CONTRACT section 4), served by the
 * supervisor's event loop on one thread.
 *
 * The caller creates the listening sockets (inside the cell's netns) and
 * hands them over; the proxy reads queries from them, decides, and either
 * answers locally or forwards to the FIRST declared resolver:
 *
 *   name allowed and type allowed  -> forwarded; the answer is relayed byte
 *                                     for byte (only the id is put back to the
 *                                     client's; TC, rcode and records as sent)
 *   name not allowed / NAME_UNSAFE -> REFUSED built here, upstream untouched
 *   type not allowed               -> REFUSED built here
 *   malformed, a response, a bad
 *   opcode or QDCOUNT != 1         -> no answer at all (malformed_query)
 *   upstream silent for 2 s        -> SERVFAIL (upstream_timeout)
 *   upstream error (refused port,
 *   reset, EOF, no resolver, proxy
 *   full)                          -> SERVFAIL (upstream_failure)
 *
 * Every query yields exactly one on_query report (docs/dns-proxy.md).
 *
 * Ownership: the listening fds, the hostmatch and the config's strings are
 * BORROWED: they must outlive the proxy, dns_proxy_free removes the fds from
 * the loop but does not close them (the caller created them in the cell's
 * netns and closes them with the cell). Everything the proxy opens itself
 * (upstream sockets, accepted TCP clients) it closes.
 *
 * Upstream: a do53-udp resolver gets one connected, non-blocking UDP socket
 * for the proxy's lifetime; queries are renumbered with random ids so that
 * clients cannot collide, and answers map back through a 64 Ki-entry
 * id -> slot table. A do53-tcp resolver gets one connection per query (no
 * renumbering needed). Upstream sockets are made by config.upstream_socket
 * so the caller picks the netns (the supervisor's, or the cell's with the
 * override); NULL means socket() in the current netns.
 *
 * Cost per UDP query: no allocation; one pooled slot (max_inflight of them,
 * allocated at start) and one loop timer for the whole proxy, since every
 * query has the same 2 s deadline and they expire in send order. UDP is
 * read with recvmmsg and written with sendmmsg, up to 16 datagrams a call.
 *
 * on_query is called from inside the proxy's handlers: it must not free
 * the proxy. */
#pragma once
#include <sys/socket.h>

#include "base/base.h"

struct loop;
struct hostmatch;
struct dns_resolver;

#define DNS_PROXY_UPSTREAM_TIMEOUT_MS 2000
#define DNS_PROXY_DEFAULT_MAX_INFLIGHT 1024
#define DNS_PROXY_DEFAULT_MAX_TCP_CLIENTS 64
#define DNS_PROXY_DEFAULT_TCP_IDLE_MS 10000
#define DNS_PROXY_MAX_INFLIGHT_LIMIT 65535

struct dns_proxy_resolver {
    const char *resolver_id;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool tcp;                   /* do53-tcp; false: do53-udp */
};

/* One dns_query event's fields (CONTRACT section 5). Pointers are valid
 * during the callback only. */
struct dns_query_report {
    const char *query_name;     /* lower case, no trailing dot; NULL when no
                                 * question could be read (malformed) */
    const char *query_type;     /* "A", "AAAA", ... or "TYPE<n>"; NULL likewise */
    const char *decision;       /* "allow" / "deny" (malformed: "deny") */
    const char *reason_code;    /* allowed_by_allowlist, denied_not_in_allowlist,
                                 * denied_query_type, malformed_query,
                                 * upstream_timeout, upstream_failure */
    const char *upstream_resolver_id;  /* the first resolver's id, NULL when none */
    int response_rcode;         /* the rcode answered; -1 when none (malformed) */
    const char *transport;      /* "udp" / "tcp": how the client asked */
};

struct dns_proxy_config {
    const int *udp_fds;         /* bound UDP sockets (borrowed) */
    size_t n_udp_fds;
    const int *tcp_fds;         /* listening TCP sockets (borrowed) */
    size_t n_tcp_fds;
    const struct dns_proxy_resolver *resolvers;  /* only the first is used */
    size_t n_resolvers;
    /* Returns a new socket fd or -errno; made non-blocking by the proxy. */
    int (*upstream_socket)(void *ctx, int family, int type);
    void *upstream_ctx;
    const struct hostmatch *allowlist;           /* borrowed */
    const uint16_t *allowed_qtypes;
    size_t n_allowed_qtypes;
    void (*on_query)(void *ctx, const struct dns_query_report *r);  /* may be NULL */
    void *on_query_ctx;
    /* Called with every upstream answer the proxy relays, just before the
     * client gets it: qname as in the report, msg as the resolver sent it
     * (the L7 proxy learns "name -> addresses" from it). May be NULL. */
    void (*on_answer)(void *ctx, const char *qname, const uint8_t *msg, size_t len);
    void *on_answer_ctx;
    /* 0 = the DNS_PROXY_DEFAULT_* / DNS_PROXY_UPSTREAM_TIMEOUT_MS value. */
    unsigned max_inflight;      /* forwarded queries awaiting an answer */
    unsigned max_tcp_clients;   /* further connections are accepted and closed */
    unsigned tcp_idle_ms;       /* a client with nothing pending is closed after */
    unsigned upstream_timeout_ms;
};

/* allowed + denied + malformed = queries; upstream_timeouts and
 * upstream_failures are among the allowed ones (SERVFAIL answered). */
struct dns_proxy_counters {
    uint64_t queries;
    uint64_t allowed;
    uint64_t denied;
    uint64_t malformed;
    uint64_t upstream_timeouts;
    uint64_t upstream_failures;
};

struct dns_proxy;

/* Register the listening fds on the loop and open the upstream UDP socket
 * (for a do53-udp resolver). -errno with err filled (reason
 * "upstream_failure" for the upstream socket, "invalid_spec" for a bad
 * config); nothing is left registered on failure. */
int dns_proxy_new(struct loop *loop, const struct dns_proxy_config *cfg,
                  struct dns_proxy **out, struct cell_err *err);

/* Close what the proxy opened, unregister the borrowed listening fds (not
 * closed), drop in-flight queries without reports. NULL is fine. */
void dns_proxy_free(struct dns_proxy *p);

void dns_proxy_get_counters(const struct dns_proxy *p, struct dns_proxy_counters *out);

/* Forwarded queries awaiting an answer, and TCP clients connected. */
size_t dns_proxy_inflight(const struct dns_proxy *p);
size_t dns_proxy_tcp_clients(const struct dns_proxy *p);

/* Fill a proxy resolver from a spec resolver (id borrowed). */
void dns_proxy_resolver_from_spec(const struct dns_resolver *r, struct dns_proxy_resolver *out);

static inline void dns_proxy_freep(struct dns_proxy **p) { dns_proxy_free(*p); }
#define _cleanup_dns_proxy_ _cleanup_(dns_proxy_freep)
