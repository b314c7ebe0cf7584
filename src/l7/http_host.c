/* http_host.c: find the host an HTTP/1.x request is for, over a buffer that
 * grows as the client's bytes arrive, and the host normalisation that both
 * peek parsers share.
 *
 * The request line is checked byte by byte so that a stream that is not HTTP
 * is told at once; the header block is checked line by line once each line
 * is complete, and the answer is given at the blank line. Only the first
 * max_head bytes are ever looked at. */
#include <arpa/inet.h>
#include <string.h>

#include "base/strtab.h"
#include "l7/peek.h"

#define HOST_LABEL_MAX 63
#define PORT_DIGITS_MAX 5

/* ---- names --------------------------------------------------------------- */

static const struct strtab_entry http_result_names[] = {
    { HTTP_PEEK_NEED_MORE, "need_more" },
    { HTTP_PEEK_HOST_FOUND, "host_found" },
    { HTTP_PEEK_HOST_MISSING, "host_missing" },
    { HTTP_PEEK_NOT_HTTP, "not_http" },
    { HTTP_PEEK_MALFORMED, "malformed" },
    { HTTP_PEEK_TOO_LARGE, "too_large" },
};

/* A head we refuse to read has no usable Host: l7_http_host_missing is the
 * contract's nearest reason (the protocol itself is known to be HTTP). */
static const struct strtab_entry http_deny_reasons[] = {
    { HTTP_PEEK_HOST_MISSING, "l7_http_host_missing" },
    { HTTP_PEEK_MALFORMED, "l7_http_host_missing" },
    { HTTP_PEEK_TOO_LARGE, "l7_http_host_missing" },
    { HTTP_PEEK_NOT_HTTP, "l7_unknown_protocol" },
};

const char *http_peek_result_name(enum http_peek_result r)
{
    return strtab_name(http_result_names, ARRAY_SIZE(http_result_names), (int)r);
}

const char *http_peek_deny_reason(enum http_peek_result r)
{
    return strtab_name(http_deny_reasons, ARRAY_SIZE(http_deny_reasons), (int)r);
}

/* ---- character classes (ASCII, no locale) ---------------------------------- */

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_hex(unsigned char c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
static unsigned char to_lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c | 0x20 : c; }

static bool is_host_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
}

/* RFC 9110 5.6.2 token characters. */
static bool is_tchar(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* A request-target byte: visible ASCII, or obs-text that some clients send
 * unencoded; never a space or a control byte. */
static bool is_target_char(unsigned char c)
{
    return c > ' ' && c != 0x7f;
}

/* Field value bytes (RFC 9110 5.5): VCHAR, obs-text, SP, HTAB. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= ' ' && c != 0x7f);
}

static bool is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* ---- host normalisation -------------------------------------------------- */

/* Lower-case name into out, checking the hostname shape; *last_numeric tells
 * whether the last label is all digits. */
static int copy_hostname(const char *name, size_t len, char *out, bool *last_numeric)
{
    size_t label = 0;
    bool numeric = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (label == 0)
                return -EINVAL;
            label = 0;
            numeric = true;
        } else if (!is_host_char(c) || ++label > HOST_LABEL_MAX) {
            return -EINVAL;
        } else if (!is_digit(c)) {
            numeric = false;
        }
        out[i] = (char)to_lower(c);
    }
    if (label == 0)
        return -EINVAL;
    out[len] = '\0';
    *last_numeric = numeric;
    return 0;
}

int l7_host_normalize(const char *name, size_t len, char out[L7_HOST_MAX + 1],
                      enum l7_host_kind *kind)
{
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > L7_HOST_MAX)
        return -EINVAL;
    char tmp[L7_HOST_MAX + 1];
    bool last_numeric;
    if (copy_hostname(name, len, tmp, &last_numeric) < 0)
        return -EINVAL;
    /* A last label of digits makes it an address to resolvers: accept only
     * the strict dotted quad. inet_aton also reads "127.1" or "0x7f.1" as
     * addresses; such strings are not names the matcher may judge. */
    struct in_addr addr;
    enum l7_host_kind k = L7_HOST_NAME;
    if (last_numeric) {
        if (inet_pton(AF_INET, tmp, &addr) != 1)
            return -EINVAL;
        k = L7_HOST_IPV4;
    } else if (inet_aton(tmp, &addr) != 0) {
        return -EINVAL;
    }
    memcpy(out, tmp, len + 1);
    if (kind)
        *kind = k;
    return 0;
}

/* ---- authority: host [":" port] ------------------------------------------- */

struct authority {
    char host[L7_HOST_MAX + 1];
    enum l7_host_kind kind;
    int port;           /* -1 when absent or empty */
};

static int parse_port(const char *s, size_t n, int *port)
{
    if (n == 0) {
        *port = -1;
        return 0;
    }
    if (n > PORT_DIGITS_MAX)
        return -EINVAL;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v > 65535)
        return -EINVAL;
    *port = v;
    return 0;
}

/* "[v6]" with hex digits, ':' and '.' only (no zone, no IPvFuture), written
 * back in the canonical inet_ntop form so equal addresses compare equal. */
static int parse_ipv6_literal(const char *s, size_t n, struct authority *a, size_t *consumed)
{
    const char *close = memchr(s, ']', n);
    size_t inner = close ? (size_t)(close - s) - 1 : 0;
    if (!close || inner == 0 || inner >= INET6_ADDRSTRLEN)
        return -EINVAL;
    char text[INET6_ADDRSTRLEN];
    for (size_t i = 0; i < inner; i++) {
        unsigned char c = (unsigned char)s[1 + i];
        if (!is_hex(c) && c != ':' && c != '.')
            return -EINVAL;
        text[i] = (char)c;
    }
    text[inner] = '\0';
    struct in6_addr addr;
    if (inet_pton(AF_INET6, text, &addr) != 1 || !inet_ntop(AF_INET6, &addr, a->host, sizeof(a->host)))
        return -EINVAL;
    a->kind = L7_HOST_IPV6;
    *consumed = inner + 2;
    return 0;
}

static int parse_authority(const char *s, size_t n, struct authority *a)
{
    size_t host_len;
    if (n > 0 && s[0] == '[') {
        if (parse_ipv6_literal(s, n, a, &host_len) < 0)
            return -EINVAL;
    } else {
        const char *colon = memchr(s, ':', n);
        host_len = colon ? (size_t)(colon - s) : n;
        if (l7_host_normalize(s, host_len, a->host, &a->kind) < 0)
            return -EINVAL;
    }
    if (host_len == n) {
        a->port = -1;
        return 0;
    }
    if (s[host_len] != ':')
        return -EINVAL;
    return parse_port(s + host_len + 1, n - host_len - 1, &a->port);
}

/* ---- request line ---------------------------------------------------------- */

enum scan { SCAN_MORE, SCAN_BAD, SCAN_DONE };

struct request_line {
    size_t method_len;
    const char *target;
    size_t target_len;
    int minor_version;
    size_t end;         /* index just past its '\n' */
};

/* The byte buf[i] must be there and satisfy cond; otherwise say whether
 * more bytes could still make a request line. */
#define EXPECT_BYTE(cond)                  \
    do {                                   \
        if (i == limit)                    \
            return SCAN_MORE;              \
        if (!(cond))                       \
            return SCAN_BAD;               \
    } while (0)

/* method SP request-target SP "HTTP/1." ("0" | "1") [CR] LF, judged on
 * every prefix: SCAN_BAD as soon as the bytes so far cannot start one. */
static enum scan scan_request_line(const char *buf, size_t limit, struct request_line *rl)
{
    static const char version[] = "HTTP/1.";
    size_t i = 0;
    while (i < limit && is_tchar((unsigned char)buf[i]))
        if (++i > HTTP_METHOD_MAX)
            return SCAN_BAD;
    EXPECT_BYTE(i > 0 && buf[i] == ' ');
    rl->method_len = i++;
    size_t target = i;
    while (i < limit && is_target_char((unsigned char)buf[i]))
        i++;
    EXPECT_BYTE(i > target && buf[i] == ' ');
    rl->target = buf + target;
    rl->target_len = i++ - target;
    for (size_t k = 0; k < sizeof(version) - 1; k++, i++)
        EXPECT_BYTE(buf[i] == version[k]);
    EXPECT_BYTE(buf[i] == '0' || buf[i] == '1');
    rl->minor_version = buf[i++] - '0';
    EXPECT_BYTE(buf[i] == '\r' || buf[i] == '\n');
    if (buf[i] == '\r') {
        i++;
        EXPECT_BYTE(buf[i] == '\n');
    }
    rl->end = i + 1;
    return SCAN_DONE;
}

static bool has_prefix_ci(const char *s, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    if (n < p)
        return false;
    for (size_t i = 0; i < p; i++)
        if (to_lower((unsigned char)s[i]) != (unsigned char)prefix[i])
            return false;
    return true;
}

/* Classify the target and read the host out of absolute and authority
 * forms. -EINVAL for a target the proxy must not forward. */
static int parse_target(const struct request_line *rl, const char *method,
                        struct http_host_info *info, struct authority *a)
{
    const char *t = rl->target;
    size_t n = rl->target_len;
    if (strcmp(method, "CONNECT") == 0) {
        info->form = HTTP_TARGET_AUTHORITY;
        if (memchr(t, '@', n) || parse_authority(t, n, a) < 0 || a->port < 0)
            return -EINVAL;
        return 0;
    }
    if (t[0] == '/') {
        info->form = HTTP_TARGET_ORIGIN;
        return 0;
    }
    if (n == 1 && t[0] == '*') {
        info->form = HTTP_TARGET_ASTERISK;
        return 0;
    }
    size_t skip = has_prefix_ci(t, n, "http://") ? 7 : has_prefix_ci(t, n, "https://") ? 8 : 0;
    if (skip == 0)
        return -EINVAL;
    info->form = HTTP_TARGET_ABSOLUTE;
    size_t end = skip;
    while (end < n && !memchr("/?#", t[end], 3))
        end++;
    /* userinfo would let "http://allowed@other/" name two hosts. */
    if (memchr(t + skip, '@', end - skip) || parse_authority(t + skip, end - skip, a) < 0)
        return -EINVAL;
    return 0;
}

/* ---- header fields ---------------------------------------------------------- */

struct head {
    const char *host_value;     /* raw Host field value, OWS trimmed */
    size_t host_len;
    int host_fields;
};

/* field-name ":" OWS field-value OWS, one complete line without its end. */
static int parse_field_line(const char *line, size_t n, struct head *h)
{
    size_t i = 0;
    /* A leading space or tab (obs-fold) and a space before ':' both stop
     * the name short of the colon. */
    while (i < n && is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i == n || line[i] != ':')
        return -EINVAL;
    size_t name_len = i++;
    for (size_t k = i; k < n; k++)
        if (!is_value_char((unsigned char)line[k]))
            return -EINVAL;
    if (name_len != 4 || !has_prefix_ci(line, 4, "host"))
        return 0;
    if (++h->host_fields > 1)
        return -EINVAL;
    size_t end = n;
    while (i < end && is_ows((unsigned char)line[i]))
        i++;
    while (end > i && is_ows((unsigned char)line[end - 1]))
        end--;
    h->host_value = line + i;
    h->host_len = end - i;
    return 0;
}

/* ---- the whole head ---------------------------------------------------------- */

static enum http_peek_result need_more(struct http_host_info *info, size_t len)
{
    info->need = len + 1;
    return HTTP_PEEK_NEED_MORE;
}

/* At the blank line: the Host field and the target must agree on one host. */
static enum http_peek_result decide(const struct head *h, const struct authority *target,
                                    struct http_host_info *info)
{
    struct authority host;
    bool have_host = h->host_fields > 0 && h->host_len > 0;
    if (have_host && parse_authority(h->host_value, h->host_len, &host) < 0)
        return HTTP_PEEK_MALFORMED;
    if (info->target_host[0]) {
        if (have_host && strcmp(host.host, target->host) != 0)
            return HTTP_PEEK_MALFORMED;
        if (!have_host) {
            host = *target;
            info->host_from_target = true;
            have_host = true;
        }
    }
    if (!have_host)
        return HTTP_PEEK_HOST_MISSING;
    memcpy(info->host, host.host, sizeof(info->host));
    info->host_kind = host.kind;
    info->port = host.port;
    return HTTP_PEEK_HOST_FOUND;
}

/* Field lines from pos on, each judged once complete; a line still arriving
 * is judged on its length only. limit = min(len, max_head). */
static enum http_peek_result scan_fields(const char *buf, size_t len, size_t limit, size_t pos,
                                         const struct http_peek_limits *lim,
                                         const struct authority *target, struct http_host_info *info)
{
    struct head h = { NULL, 0, 0 };
    for (;;) {
        const char *nl = memchr(buf + pos, '\n', limit - pos);
        if (!nl) {
            size_t partial = limit - pos;
            if (partial > 0 && buf[limit - 1] == '\r')
                partial--;  /* may yet be the end of the line */
            if (partial > lim->max_line)
                return HTTP_PEEK_MALFORMED;
            return len >= lim->max_head ? HTTP_PEEK_TOO_LARGE : need_more(info, len);
        }
        size_t end = (size_t)(nl - buf);
        size_t n = end - pos;
        if (n > 0 && buf[end - 1] == '\r')
            n--;
        if (n > lim->max_line)
            return HTTP_PEEK_MALFORMED;
        if (n == 0) {
            info->head_len = end + 1;
            return decide(&h, target, info);
        }
        if (parse_field_line(buf + pos, n, &h) < 0)
            return HTTP_PEEK_MALFORMED;
        pos = end + 1;
    }
}

static enum http_peek_result peek(const char *buf, size_t len, const struct http_peek_limits *lim,
                                  struct http_host_info *info)
{
    size_t limit = len < lim->max_head ? len : lim->max_head;
    struct request_line rl;
    switch (scan_request_line(buf, limit, &rl)) {
    case SCAN_BAD:
        return HTTP_PEEK_NOT_HTTP;
    case SCAN_MORE:
        return len >= lim->max_head ? HTTP_PEEK_TOO_LARGE : need_more(info, len);
    case SCAN_DONE:
        break;
    }
    memcpy(info->method, buf, rl.method_len);
    info->method[rl.method_len] = '\0';
    info->minor_version = rl.minor_version;
    struct authority target = { .port = -1 };
    if (parse_target(&rl, info->method, info, &target) < 0)
        return HTTP_PEEK_MALFORMED;
    if (info->form == HTTP_TARGET_ABSOLUTE || info->form == HTTP_TARGET_AUTHORITY) {
        memcpy(info->target_host, target.host, sizeof(info->target_host));
        info->target_port = target.port;
    }
    return scan_fields(buf, len, limit, rl.end, lim, &target, info);
}

enum http_peek_result http_host_peek(const char *buf, size_t len,
                                     const struct http_peek_limits *limits,
                                     struct http_host_info *info)
{
    memset(info, 0, sizeof(*info));
    info->port = -1;
    info->target_port = -1;
    struct http_peek_limits lim = {
        .max_head = limits && limits->max_head ? limits->max_head : HTTP_PEEK_DEFAULT_MAX_HEAD,
        .max_line = limits && limits->max_line ? limits->max_line : HTTP_PEEK_DEFAULT_MAX_LINE,
    };
    enum http_peek_result r = peek(buf, len, &lim, info);
    if (r != HTTP_PEEK_HOST_FOUND) {
        info->host[0] = '\0';
        info->host_kind = L7_HOST_NAME;
        info->port = -1;
        info->host_from_target = false;
    }
    if (r != HTTP_PEEK_HOST_FOUND && r != HTTP_PEEK_HOST_MISSING)
        info->head_len = 0;
    return r;
}
