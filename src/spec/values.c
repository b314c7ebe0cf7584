/* values.c: the rules for single values of a spec (ids, addresses, paths,
 * users, DNS types). Pure functions; messages are for users. */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "policy/hostmatch.h"
#include "spec/spec-internal.h"

static int fail(const char **why, const char *message)
{
    *why = message;
    return -EINVAL;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

int spec_check_id(const char *s, const char **why)
{
    size_t len = strlen(s);
    if (len == 0 || len > SPEC_ID_MAX)
        return fail(why, "must be 1..128 characters");
    if (s[0] == '.')
        return fail(why, "must not start with '.'");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
                  c == '_' || c == '-';
        if (!ok)
            return fail(why, "must contain only letters, digits, '.', '_' and '-'");
    }
    return 0;
}

/* ---- egress hosts ---- */

/* Decimal 0..max without sign or leading zeros. */
static int parse_small_decimal(const char *s, size_t n, unsigned max, unsigned *out)
{
    if (!all_digits(s, n) || n > 5 || (n > 1 && s[0] == '0'))
        return -EINVAL;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    if (v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

/* An IP literal of either family; returns the family or 0. */
static int parse_ip(const char *s, size_t n, uint8_t addr[16])
{
    char tmp[INET6_ADDRSTRLEN + 1];
    if (n >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, tmp, addr) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, tmp, addr) == 1)
        return AF_INET6;
    return 0;
}

static bool host_bits_clear(const uint8_t addr[16], unsigned prefix, unsigned bits)
{
    for (unsigned b = prefix; b < bits; b++)
        if (addr[b / 8] & (0x80u >> (b % 8)))
            return false;
    return true;
}

static int parse_cidr(const char *s, const char *slash, struct egress_rule *rule, const char **why)
{
    uint8_t addr[16];
    int family = parse_ip(s, (size_t)(slash - s), addr);
    if (!family)
        return fail(why, "invalid CIDR: the address is not an IPv4 or IPv6 address");
    unsigned bits = family == AF_INET ? 32 : 128, prefix;
    const char *p = slash + 1;
    if (parse_small_decimal(p, strlen(p), bits, &prefix) < 0)
        return fail(why, family == AF_INET ? "invalid CIDR: prefix length must be 0..32"
                                           : "invalid CIDR: prefix length must be 0..128");
    if (!host_bits_clear(addr, prefix, bits))
        return fail(why, "invalid CIDR: address bits after the prefix length must be zero "
                         "(write the network address, e.g. 10.0.0.0/8)");
    memcpy(rule->addr, addr, 16);
    rule->prefix_len = (uint8_t)prefix;
    rule->kind = family == AF_INET ? EGRESS_CIDR4 : EGRESS_CIDR6;
    return 0;
}

static bool looks_like_ipv4(const char *s)
{
    return s[0] && strspn(s, "0123456789.") == strlen(s);
}

int spec_parse_egress_host(const char *s, struct egress_rule *rule, const char **why)
{
    const char *slash = strchr(s, '/');
    if (slash)
        return parse_cidr(s, slash, rule, why);
    uint8_t addr[16];
    int family = parse_ip(s, strlen(s), addr);
    if (family) {
        memcpy(rule->addr, addr, 16);
        rule->kind = family == AF_INET ? EGRESS_IPV4 : EGRESS_IPV6;
        rule->prefix_len = family == AF_INET ? 32 : 128;
        return 0;
    }
    if (strchr(s, '*'))
        return fail(why, "must be a hostname, IP address or CIDR; wildcards belong in "
                         "dnsAuthority.hostnameAllowlist");
    if (looks_like_ipv4(s))
        return fail(why, "invalid IPv4 address");
    if (strchr(s, ':'))
        return fail(why, "invalid IPv6 address");
    const char *name_why;
    if (hostmatch_check_name(s, strlen(s), &name_why) < 0)
        return fail(why, name_why);
    rule->kind = EGRESS_HOSTNAME;
    rule->prefix_len = 0;
    memset(rule->addr, 0, sizeof(rule->addr));
    return 0;
}

/* ---- resolver endpoints ---- */

static int parse_port(const char *s, uint16_t *out, const char **why)
{
    size_t n = strlen(s);
    if (!all_digits(s, n))
        return fail(why, "must be IPv4:port or [IPv6]:port");
    unsigned v = 0;
    for (size_t i = 0; i < n && v <= 65535; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    if (v == 0 || v > 65535)
        return fail(why, "port must be 1..65535");
    *out = (uint16_t)v;
    return 0;
}

int spec_parse_endpoint(const char *s, struct dns_resolver *res, const char **why)
{
    static const char form[] = "must be IPv4:port or [IPv6]:port";
    uint8_t addr[16];
    uint16_t port;
    int family;
    const char *port_str;
    if (s[0] == '[') {
        const char *close = strstr(s, "]:");
        if (!close)
            return fail(why, form);
        family = parse_ip(s + 1, (size_t)(close - s - 1), addr);
        if (family != AF_INET6)
            return fail(why, "invalid IPv6 address between [ and ]");
        port_str = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon)
            return fail(why, form);
        if (memchr(s, ':', (size_t)(colon - s)))
            return fail(why, "IPv6 endpoints must be written [address]:port");
        family = parse_ip(s, (size_t)(colon - s), addr);
        if (family != AF_INET)
            return fail(why, "must be IPv4:port or [IPv6]:port with an IP address, not a name");
        port_str = colon + 1;
    }
    if (parse_port(port_str, &port, why) < 0)
        return -EINVAL;
    res->family = family;
    memcpy(res->addr, addr, 16);
    res->port = port;
    return 0;
}

/* ---- users and paths ---- */

#define ID_MAX 4294967294u /* (uid_t)-1 means "unchanged" to setresuid */

static int parse_id(const char *s, size_t n, uint32_t *out)
{
    char tmp[24];
    uint64_t v;
    if (!all_digits(s, n) || n >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (parse_u64(tmp, &v) < 0 || v > ID_MAX)
        return -ERANGE;
    *out = (uint32_t)v;
    return 0;
}

int spec_parse_user(const char *s, struct run_user *user, const char **why)
{
    const char *colon = strchr(s, ':');
    uint32_t uid, gid;
    if (!colon || !all_digits(s, (size_t)(colon - s)) || !all_digits(colon + 1, strlen(colon + 1)))
        return fail(why, "must be \"uid:gid\" in decimal, e.g. \"65534:65534\"");
    if (parse_id(s, (size_t)(colon - s), &uid) < 0 ||
        parse_id(colon + 1, strlen(colon + 1), &gid) < 0)
        return fail(why, "uid and gid must be 0..4294967294");
    *user = (struct run_user){ .present = true, .uid = uid, .gid = gid };
    return 0;
}

static bool has_dotdot_component(const char *s)
{
    for (const char *p = s; (p = strstr(p, "..")); p++) {
        bool starts = p == s || p[-1] == '/';
        bool ends = p[2] == '\0' || p[2] == '/';
        if (starts && ends)
            return true;
    }
    return false;
}

static bool has_control_char(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

int spec_check_abs_path(const char *s, const char **why)
{
    if (s[0] != '/')
        return fail(why, "must be an absolute path");
    if (strlen(s) >= PATH_MAX)
        return fail(why, "must be shorter than 4096 bytes");
    if (has_dotdot_component(s))
        return fail(why, "must not contain '..' components");
    if (has_control_char(s))
        return fail(why, "must not contain control characters");
    return 0;
}

int spec_check_safe_segment(const char *s, const char **why)
{
    if (!s[0])
        return fail(why, "must not be empty");
    if (strchr(s, '/') || strchr(s, '\\'))
        return fail(why, "must be a single path segment (no '/' or '\\')");
    if (strstr(s, ".."))
        return fail(why, "must not contain '..'");
    if (strcmp(s, ".") == 0)
        return fail(why, "must not be '.'");
    if (s[0] == '~')
        return fail(why, "must not start with '~'");
    if (strlen(s) > NAME_MAX)
        return fail(why, "must be at most 255 bytes");
    if (has_control_char(s))
        return fail(why, "must not contain control characters");
    return 0;
}

int spec_check_secret_key(const char *s, const char **why)
{
    if (!s[0])
        return fail(why, "must not be empty");
    if (strchr(s, '='))
        return fail(why, "must not contain '='");
    return 0;
}

/* ---- DNS query types ---- */

struct qtype {
    uint16_t type;
    const char *name;
};

/* The vocabulary of allowedQueryTypes (IANA "Resource Record (RR) TYPEs");
 * anything else can be written TYPE<n> (RFC 3597). */
static const struct qtype qtypes[] = {
    { 1, "A" },       { 2, "NS" },      { 5, "CNAME" },   { 6, "SOA" },
    { 12, "PTR" },    { 13, "HINFO" },  { 15, "MX" },     { 16, "TXT" },
    { 28, "AAAA" },   { 33, "SRV" },    { 35, "NAPTR" },  { 39, "DNAME" },
    { 43, "DS" },     { 44, "SSHFP" },  { 46, "RRSIG" },  { 47, "NSEC" },
    { 48, "DNSKEY" }, { 50, "NSEC3" },  { 52, "TLSA" },   { 53, "SMIMEA" },
    { 59, "CDS" },    { 60, "CDNSKEY" }, { 61, "OPENPGPKEY" }, { 64, "SVCB" },
    { 65, "HTTPS" },  { 99, "SPF" },    { 255, "ANY" },   { 256, "URI" },
    { 257, "CAA" },
};

uint16_t dns_qtype_from_name(const char *name)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < ARRAY_SIZE(qtypes); i++)
        if (strcasecmp(qtypes[i].name, name) == 0)
            return qtypes[i].type;
    unsigned v;
    if (strncasecmp(name, "TYPE", 4) == 0 &&
        parse_small_decimal(name + 4, strlen(name + 4), 65535, &v) == 0)
        return (uint16_t)v;
    return 0;
}

const char *dns_qtype_name(uint16_t type)
{
    for (size_t i = 0; i < ARRAY_SIZE(qtypes); i++)
        if (qtypes[i].type == type)
            return qtypes[i].name;
    return NULL;
}
