/* spec.h: the cellos.io/v1 ExecutionCell spec as inert data.
 *
 * spec_parse() reads untrusted bytes with jansson (duplicate keys rejected,
 * depth and size bounded), validates every rule of CONTRACT section 2 from
 * tables, and reports *all* errors, each with its JSON path. Nothing here
 * touches the host. */
#pragma once
#include "base/base.h"

#define SPEC_MAX_BYTES (1u << 20)   /* larger spec files are refused */
#define SPEC_MAX_DEPTH 32           /* deeper JSON nesting is refused */
#define SPEC_ID_MAX 128
#define SPEC_MAX_ERRORS 100         /* past this, one "more than 100 errors" entry ends the list */

enum net_proto { NET_PROTO_TCP, NET_PROTO_UDP };
enum resolver_proto { RESOLVER_DO53_UDP, RESOLVER_DO53_TCP };
enum secret_delivery { SECRET_DELIVERY_ENV, SECRET_DELIVERY_RUNTIME_BROKER };

/* An egress rule's host, classified at parse time. */
enum egress_host_kind { EGRESS_HOSTNAME, EGRESS_IPV4, EGRESS_IPV6, EGRESS_CIDR4, EGRESS_CIDR6 };

struct egress_rule {
    char *host;                 /* as written */
    enum egress_host_kind kind;
    uint8_t addr[16];           /* for IP / CIDR kinds: network order, v4 in the first 4 bytes */
    uint8_t prefix_len;         /* 32 / 128 for literals */
    uint16_t port;
    enum net_proto protocol;
};

struct dns_resolver {
    char *resolver_id;
    char *endpoint;             /* as written */
    int family;                 /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint16_t port;
    enum resolver_proto protocol;
};

struct dns_authority {
    bool present;
    char **hostname_allowlist;  /* entries as written */
    size_t n_hostname_allowlist;
    bool block_direct_workload_dns;
    struct dns_resolver *resolvers;
    size_t n_resolvers;
    uint16_t *allowed_qtypes;   /* numeric DNS types, as given (duplicates kept) */
    size_t n_allowed_qtypes;
    bool allowed_qtypes_given;  /* false: the default A, AAAA, CNAME, HTTPS, which
                                 * allowed_qtypes then holds */
};

struct cpu_max {
    bool present;
    bool unlimited;             /* quota "max" */
    uint64_t quota_micros;      /* 0 when unlimited */
    uint64_t period_micros;     /* default 100000 */
};

struct run_limits {
    bool has_memory_max;
    uint64_t memory_max_bytes;
    struct cpu_max cpu_max;
    bool has_pids_max;
    uint64_t pids_max;
    bool has_graceful_shutdown;
    uint32_t graceful_shutdown_seconds;
};

struct run_user {
    bool present;
    uint32_t uid, gid;
};

struct run_spec {
    bool present;
    char **argv;                /* NULL-terminated */
    size_t argc;
    char *working_directory;    /* NULL when not given */
    bool has_timeout_ms;        /* timeoutMs or timeoutSeconds*1000 */
    uint64_t timeout_ms;
    enum secret_delivery secret_delivery;
    struct run_user user;
    struct run_limits limits;
};

struct artifact {
    char *name;
    char *path;
};

struct cell_spec {
    char *api_version;
    char *kind;
    char *id;
    char *correlation_id;       /* NULL when absent */
    char *tenant_id;            /* spec.correlation.tenantId, NULL when absent */
    char **secret_refs;
    size_t n_secret_refs;
    struct egress_rule *egress_rules;
    size_t n_egress_rules;
    struct dns_authority dns;
    uint64_t ttl_seconds;
    struct run_spec run;
    struct artifact *artifacts;
    size_t n_artifacts;
};

/* One validation error: a JSON path like spec.authority.egressRules[2].port
 * and a message like "must be 1..65535". */
struct spec_error {
    char *path;
    char *message;
};

struct spec_errors {
    struct spec_error *items;
    size_t n;
};

/* Parse and validate. Returns 0 and sets *out on success; on any error
 * returns -EINVAL, leaves *out untouched and fills errs with every error
 * found (errs must be freed with spec_errors_free either way). */
int spec_parse(const char *bytes, size_t len, struct cell_spec **out,
               struct spec_errors *errs);
void spec_free(struct cell_spec *spec);
void spec_errors_free(struct spec_errors *errs);

/* The effective run timeout: min(timeoutMs, ttlSeconds*1000). */
uint64_t spec_effective_timeout_ms(const struct cell_spec *spec);

/* Helpers shared with the CLI and tests. */
const char *net_proto_name(enum net_proto p);
const char *resolver_proto_name(enum resolver_proto p);
const char *secret_delivery_name(enum secret_delivery d);
/* DNS type mnemonic <-> number for the allowedQueryTypes vocabulary.
 * Returns 0 for an unknown mnemonic; NULL for an unknown number. */
uint16_t dns_qtype_from_name(const char *name);
const char *dns_qtype_name(uint16_t type);

static inline void spec_freep(struct cell_spec **s) { spec_free(*s); }
#define _cleanup_spec_ _cleanup_(spec_freep)
