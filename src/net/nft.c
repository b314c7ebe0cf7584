/* nft.c: render a cell's egress policy as nft script text (see nft.h for
 * the shape of the ruleset and why). Pure: no I/O, no name resolution. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "net/nft.h"

#define REASON_INVALID "invalid_policy"

/* An address in canonical text form (inet_ntop), with its family and
 * prefix length (32/128 for a host). */
struct addr {
    int family;
    unsigned prefix;
    char text[INET6_ADDRSTRLEN];
};

/* ---- names and labels ------------------------------------------------------ */

static bool table_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

int nft_table_name(const char *cell_id, char out[NFT_TABLE_NAME_MAX])
{
    if (!cell_id || !*cell_id)
        return -EINVAL;
    size_t n = strlen(NFT_TABLE_PREFIX);
    memcpy(out, NFT_TABLE_PREFIX, n);
    for (const char *p = cell_id; *p && n < NFT_TABLE_NAME_MAX - 1; p++)
        out[n++] = table_char_ok(*p) ? *p : '_';
    out[n] = '\0';
    return 0;
}

/* Comments and log prefixes are quoted nft strings: keep to characters that
 * need no escaping and cannot end the string. */
static bool label_char_ok(char c)
{
    return table_char_ok(c) || (c && strchr(".:/*[]- @,=+", c) != NULL);
}

static void sanitize_into(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; *src && n + 1 < cap; src++)
        dst[n++] = label_char_ok(*src) ? *src : '_';
    dst[n] = '\0';
}

/* A rule comment, cut to NFT_COMMENT_MAX bytes (cutting is intended: the
 * index prefix keeps comments unique). */
static void PRINTF_LIKE(2, 3) make_comment(char out[NFT_COMMENT_MAX + 1], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, NFT_COMMENT_MAX + 1, fmt, ap);
    va_end(ap);
}

/* ---- addresses ------------------------------------------------------------- */

static void mask_host_bits(unsigned char *bytes, size_t len, unsigned prefix)
{
    for (size_t i = 0; i < len; i++) {
        unsigned keep = prefix > 8 * i ? prefix - 8 * i : 0;
        if (keep < 8)
            bytes[i] &= (unsigned char)(0xff00u >> keep);
    }
}

/* Parse "literal" or (when allow_prefix) "literal/len" into canonical form. */
static int parse_addr(const char *s, bool allow_prefix, struct addr *out)
{
    if (!s)
        return -EINVAL;
    char tmp[INET6_ADDRSTRLEN + 8];
    if (strlen(s) >= sizeof(tmp))
        return -EINVAL;
    strcpy(tmp, s);

    char *slash = strchr(tmp, '/');
    uint64_t prefix = UINT64_MAX;
    if (slash) {
        if (!allow_prefix || parse_u64(slash + 1, &prefix) < 0)
            return -EINVAL;
        *slash = '\0';
    }
    unsigned char bytes[16];
    struct addr a = { 0 };
    if (inet_pton(AF_INET, tmp, bytes) == 1)
        a.family = AF_INET;
    else if (inet_pton(AF_INET6, tmp, bytes) == 1)
        a.family = AF_INET6;
    else
        return -EINVAL;

    unsigned bits = a.family == AF_INET ? 32 : 128;
    if (prefix != UINT64_MAX && prefix > bits)
        return -EINVAL;
    a.prefix = prefix == UINT64_MAX ? bits : (unsigned)prefix;
    mask_host_bits(bytes, bits / 8, a.prefix);
    if (!inet_ntop(a.family, bytes, a.text, sizeof(a.text)))
        return -EINVAL;
    *out = a;
    return 0;
}

static const char *family_kw(int family) { return family == AF_INET ? "ip" : "ip6"; }
static const char *family_name(int family) { return family == AF_INET ? "ipv4" : "ipv6"; }

static void put_addr(struct buf *b, const struct addr *a)
{
    buf_puts(b, a->text);
    if (a->prefix != (a->family == AF_INET ? 32u : 128u))
        buf_printf(b, "/%u", a->prefix);
}

/* ---- rules ----------------------------------------------------------------- */

struct render {
    struct buf out;
    uint16_t nflog_group;
};

/* One rule line: match, counter, optional log, verdict, comment. */
static void emit(struct render *r, const char *match, const char *verdict, const char *comment,
                 bool loggable)
{
    buf_printf(&r->out, "\t\t%s%scounter ", match, *match ? " " : "");
    if (loggable && r->nflog_group)
        buf_printf(&r->out, "log prefix \"%s\" group %u ", comment, r->nflog_group);
    buf_printf(&r->out, "%s comment \"%s\"\n", verdict, comment);
}

static const char *l4_name(enum nft_l4 p) { return p == NFT_L4_UDP ? "udp" : "tcp"; }

/* Distinct canonical addresses of one family among proxies and resolvers,
 * rendered as an nft set body "a, b" (empty when none). */
static void exempt_set(struct buf *set, const struct addr *eps, size_t n, int family)
{
    for (size_t i = 0; i < n; i++) {
        if (eps[i].family != family)
            continue;
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen = seen || (eps[j].family == family && strcmp(eps[j].text, eps[i].text) == 0);
        if (seen)
            continue;
        if (set->len)
            buf_puts(set, ", ");
        buf_puts(set, eps[i].text);
    }
}

static const struct addr *first_of_family(const struct addr *eps, size_t n, int family)
{
    for (size_t i = 0; i < n; i++)
        if (eps[i].family == family)
            return &eps[i];
    return NULL;
}

static void emit_proxy_accepts(struct render *r, const struct nft_policy *p,
                               const struct addr *proxies)
{
    for (size_t i = 0; i < p->n_dns_proxies; i++) {
        _cleanup_free_ char *match = xasprintf(
            "%s daddr %s meta l4proto { tcp, udp } th dport %u", family_kw(proxies[i].family),
            proxies[i].text, p->dns_proxies[i].port);
        char comment[NFT_COMMENT_MAX + 1];
        bool v6 = proxies[i].family == AF_INET6;
        make_comment(comment, "dns-proxy[%zu] %s%s%s:%u", i, v6 ? "[" : "", proxies[i].text,
                     v6 ? "]" : "", p->dns_proxies[i].port);
        emit(r, match, "accept", comment, true);
    }
    if (p->l7_redirect_port) {
        static const struct { const char *match; const char *comment; } l7[] = {
            { "ip daddr 127.0.0.1", "l7-proxy ipv4" },
            { "ip6 daddr ::1", "l7-proxy ipv6" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(l7); i++) {
            _cleanup_free_ char *match =
                xasprintf("%s tcp dport %u", l7[i].match, p->l7_redirect_port);
            emit(r, match, "accept", l7[i].comment, true);
        }
    }
}

static void emit_dns_block(struct render *r, const struct addr *exempt, size_t n_exempt)
{
    static const int families[] = { AF_INET, AF_INET6 };
    for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
        _cleanup_buf_ struct buf set = BUF_INIT;
        exempt_set(&set, exempt, n_exempt, families[f]);
        _cleanup_free_ char *match = xasprintf(
            "meta nfproto %s meta l4proto { tcp, udp } th dport { 53, 853 }%s%s%s%s%s",
            family_name(families[f]), set.len ? " " : "", set.len ? family_kw(families[f]) : "",
            set.len ? " daddr != { " : "", set.len ? set.data : "", set.len ? " }" : "");
        char comment[NFT_COMMENT_MAX + 1];
        make_comment(comment, "block-direct-dns %s", family_name(families[f]));
        emit(r, match, "drop", comment, true);
    }
}

static void emit_egress(struct render *r, const struct nft_policy *p, const struct addr *dst)
{
    for (size_t i = 0; i < p->n_egress; i++) {
        const struct nft_egress *e = &p->egress[i];
        struct buf match = BUF_INIT;
        buf_printf(&match, "%s daddr ", family_kw(dst[i].family));
        put_addr(&match, &dst[i]);
        buf_printf(&match, " %s dport %u", l4_name(e->proto), e->port);

        char label[NFT_COMMENT_MAX + 1];
        if (e->label) {
            sanitize_into(label, sizeof(label), e->label);
        } else {
            struct buf l = BUF_INIT;
            bool v6 = dst[i].family == AF_INET6;
            buf_puts(&l, v6 ? "[" : "");
            put_addr(&l, &dst[i]);
            buf_printf(&l, "%s:%u/%s", v6 ? "]" : "", e->port, l4_name(e->proto));
            sanitize_into(label, sizeof(label), l.data);
            buf_free(&l);
        }
        char comment[NFT_COMMENT_MAX + 1];
        make_comment(comment, "egress[%zu] %s", i, label);
        emit(r, match.data, "accept", comment, true);
        buf_free(&match);
    }
}

static void emit_final_rejects(struct render *r)
{
    emit(r, "meta l4proto tcp", "reject with tcp reset", "reject tcp", true);
    emit(r, "", "reject with icmpx admin-prohibited", "reject other", true);
}

static void emit_output_chain(struct render *r, const struct nft_policy *p,
                              const struct addr *dst, const struct addr *proxies,
                              const struct addr *exempt, size_t n_exempt)
{
    buf_puts(&r->out, "\tchain output {\n"
                      "\t\ttype filter hook output priority 0; policy drop;\n");
    emit(r, "ct state established,related", "accept", "established", false);
    emit(r, "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit }",
         "accept", "ipv6-neighbour-discovery", false);
    emit_proxy_accepts(r, p, proxies);
    if (p->block_direct_dns)
        emit_dns_block(r, exempt, n_exempt);
    emit_egress(r, p, dst);
    emit_final_rejects(r);
    buf_puts(&r->out, "\t}\n");
}

/* Ports for the L7 redirect: 80, 443 and the declared ones, sorted, once each. */
static void l7_port_set(struct buf *set, const struct nft_policy *p)
{
    uint16_t ports[NFT_MAX_L7_PORTS + 2] = { 80, 443 };
    size_t n = 2;
    for (size_t i = 0; i < p->n_l7_ports; i++) {
        size_t j = n++;
        for (; j > 0 && ports[j - 1] > p->l7_ports[i]; j--)
            ports[j] = ports[j - 1];
        ports[j] = p->l7_ports[i];
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && ports[i] == ports[i - 1])
            continue;
        buf_printf(set, "%s%u", set->len ? ", " : "", ports[i]);
    }
}

static void emit_nat_chain(struct render *r, const struct nft_policy *p, const struct addr *proxies)
{
    buf_puts(&r->out, "\tchain nat_output {\n"
                      "\t\ttype nat hook output priority -100; policy accept;\n");
    static const int families[] = { AF_INET, AF_INET6 };
    for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
        int fam = families[f];
        const struct addr *to = first_of_family(proxies, p->n_dns_proxies, fam);
        if (!to)
            continue;
        uint16_t port = p->dns_proxies[to - proxies].port;
        _cleanup_buf_ struct buf set = BUF_INIT;
        exempt_set(&set, proxies, p->n_dns_proxies, fam);
        _cleanup_free_ char *match = xasprintf(
            "meta nfproto %s meta l4proto { tcp, udp } th dport 53 %s daddr != { %s }",
            family_name(fam), family_kw(fam), set.data);
        _cleanup_free_ char *verdict =
            fam == AF_INET ? xasprintf("dnat ip to %s:%u", to->text, port)
                           : xasprintf("dnat ip6 to [%s]:%u", to->text, port);
        char comment[NFT_COMMENT_MAX + 1];
        make_comment(comment, "dns-redirect %s", family_name(fam));
        emit(r, match, verdict, comment, false);
    }
    if (p->l7_redirect_port) {
        _cleanup_buf_ struct buf set = BUF_INIT;
        l7_port_set(&set, p);
        static const struct { const char *nfproto, *not_loopback, *comment; } l7[] = {
            { "ipv4", "ip daddr != 127.0.0.0/8", "l7-redirect ipv4" },
            { "ipv6", "ip6 daddr != ::1", "l7-redirect ipv6" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(l7); i++) {
            _cleanup_free_ char *match = xasprintf("meta nfproto %s tcp dport { %s } %s",
                                                   l7[i].nfproto, set.data, l7[i].not_loopback);
            _cleanup_free_ char *verdict = xasprintf("redirect to :%u", p->l7_redirect_port);
            emit(r, match, verdict, l7[i].comment, false);
        }
    }
    buf_puts(&r->out, "\t}\n");
}

/* ---- validation -------------------------------------------------------------- */

static int parse_endpoints(const struct nft_endpoint *eps, size_t n, const char *what,
                           struct addr *out, struct cell_err *err)
{
    if (n > NFT_MAX_ENDPOINTS)
        return cell_err_set(err, EINVAL, REASON_INVALID, "%s: more than %d endpoints", what,
                            NFT_MAX_ENDPOINTS);
    if (n && !eps)
        return cell_err_set(err, EINVAL, REASON_INVALID, "%s: missing", what);
    for (size_t i = 0; i < n; i++) {
        if (parse_addr(eps[i].addr, false, &out[i]) < 0)
            return cell_err_set(err, EINVAL, REASON_INVALID,
                                "%s[%zu].addr: not an IPv4 or IPv6 address", what, i);
        if (eps[i].port == 0)
            return cell_err_set(err, EINVAL, REASON_INVALID, "%s[%zu].port: must be 1..65535",
                                what, i);
    }
    return 0;
}

static int parse_egress(const struct nft_policy *p, struct addr *out, struct cell_err *err)
{
    if (p->n_egress > NFT_MAX_EGRESS)
        return cell_err_set(err, EINVAL, REASON_INVALID, "egress: more than %d entries",
                            NFT_MAX_EGRESS);
    if (p->n_egress && !p->egress)
        return cell_err_set(err, EINVAL, REASON_INVALID, "egress: missing");
    for (size_t i = 0; i < p->n_egress; i++) {
        const struct nft_egress *e = &p->egress[i];
        if (parse_addr(e->addr, true, &out[i]) < 0)
            return cell_err_set(err, EINVAL, REASON_INVALID,
                                "egress[%zu].addr: not an IPv4/IPv6 address or CIDR", i);
        if (e->port == 0)
            return cell_err_set(err, EINVAL, REASON_INVALID,
                                "egress[%zu].port: must be 1..65535", i);
        if (e->proto != NFT_L4_TCP && e->proto != NFT_L4_UDP)
            return cell_err_set(err, EINVAL, REASON_INVALID,
                                "egress[%zu].protocol: must be tcp or udp", i);
    }
    return 0;
}

static int check_l7(const struct nft_policy *p, struct cell_err *err)
{
    if (p->n_l7_ports > NFT_MAX_L7_PORTS)
        return cell_err_set(err, EINVAL, REASON_INVALID, "l7Ports: more than %d ports",
                            NFT_MAX_L7_PORTS);
    if (p->n_l7_ports && !p->l7_ports)
        return cell_err_set(err, EINVAL, REASON_INVALID, "l7Ports: missing");
    for (size_t i = 0; i < p->n_l7_ports; i++)
        if (p->l7_ports[i] == 0)
            return cell_err_set(err, EINVAL, REASON_INVALID,
                                "l7Ports[%zu]: must be 1..65535", i);
    return 0;
}

/* ---- entry point ------------------------------------------------------------- */

int nft_render(const struct nft_policy *p, char **out, struct cell_err *err)
{
    if (!p)
        return cell_err_set(err, EINVAL, REASON_INVALID, "policy: missing");
    char table[NFT_TABLE_NAME_MAX];
    if (nft_table_name(p->cell_id, table) < 0)
        return cell_err_set(err, EINVAL, REASON_INVALID, "cellId: must not be empty");

    _cleanup_free_ struct addr *dst = xcalloc(p->n_egress ? p->n_egress : 1, sizeof(*dst));
    struct addr exempt[2 * NFT_MAX_ENDPOINTS];
    int rc = parse_egress(p, dst, err);
    if (rc == 0)
        rc = parse_endpoints(p->dns_proxies, p->n_dns_proxies, "dnsProxies", exempt, err);
    if (rc == 0)
        rc = parse_endpoints(p->resolvers, p->n_resolvers, "resolvers",
                             exempt + p->n_dns_proxies, err);
    if (rc == 0)
        rc = check_l7(p, err);
    if (rc < 0)
        return rc;

    struct render r = { .out = BUF_INIT, .nflog_group = p->nflog_group };
    buf_printf(&r.out, "table inet %s {\n", table);
    emit_output_chain(&r, p, dst, exempt, exempt, p->n_dns_proxies + p->n_resolvers);
    if (p->n_dns_proxies || p->l7_redirect_port)
        emit_nat_chain(&r, p, exempt);
    buf_puts(&r.out, "}\n");
    *out = buf_steal(&r.out);
    return 0;
}
