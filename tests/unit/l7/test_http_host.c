/* test_http_host.c: the HTTP/1.x Host peek (TAP_MAIN is in test_l7.c). */
#include <stdlib.h>
#include <string.h>

#include "l7/peek.h"
#include "tap.h"
#include "vectors.h"

/* Peek at an exact-size heap copy, so ASan sees any read past len. */
static enum http_peek_result peek_n(const char *s, size_t n, const struct http_peek_limits *lim,
                                    struct http_host_info *info)
{
    char *copy = calloc(n ? n : 1, 1);
    memcpy(copy, s, n);
    enum http_peek_result r = http_host_peek(copy, n, lim, info);
    free(copy);
    return r;
}

static enum http_peek_result peek(const char *s, struct http_host_info *info)
{
    return peek_n(s, strlen(s), NULL, info);
}

#define IS_HOST(req, want_host)                                              \
    do {                                                                     \
        struct http_host_info _i;                                            \
        is_int(peek(req, &_i), HTTP_PEEK_HOST_FOUND, "found");               \
        is_str(_i.host, want_host, "host");                                  \
    } while (0)

#define IS_RESULT(req, want)                                                 \
    do {                                                                     \
        struct http_host_info _i;                                            \
        is_int(peek(req, &_i), want, "result");                              \
        is_str(_i.host, "", "no host");                                      \
    } while (0)

TEST(http_names_and_reasons)
{
    is_str(http_peek_result_name(HTTP_PEEK_TOO_LARGE), "too_large", "name");
    is_str(http_peek_deny_reason(HTTP_PEEK_HOST_MISSING), "l7_http_host_missing", "missing");
    is_str(http_peek_deny_reason(HTTP_PEEK_MALFORMED), "l7_http_host_missing", "malformed");
    is_str(http_peek_deny_reason(HTTP_PEEK_TOO_LARGE), "l7_http_host_missing", "too large");
    is_str(http_peek_deny_reason(HTTP_PEEK_NOT_HTTP), "l7_unknown_protocol", "not http");
    ok(http_peek_deny_reason(HTTP_PEEK_HOST_FOUND) == NULL, "found: allowlist decides");
}

TEST(http_host_found)
{
    struct http_host_info info;
    const char *req = "GET /index.html HTTP/1.1\r\nUser-Agent: t\r\nHost: \t WWW.Example.COM:8080 \t\r\n"
                      "Accept: */*\r\n\r\nBODY";
    is_int(peek(req, &info), HTTP_PEEK_HOST_FOUND, "found");
    is_str(info.host, "www.example.com", "lower case, no port, trimmed");
    is_int(info.port, 8080, "port");
    is_str(info.method, "GET", "method");
    is_int(info.minor_version, 1, "1.1");
    is_int(info.form, HTTP_TARGET_ORIGIN, "origin form");
    is_int(info.head_len, strlen(req) - 4, "head ends before the body");
    ok(!info.host_from_target, "from the header");
    is_str(info.target_host, "", "no target host");

    IS_HOST("GET / HTTP/1.0\nHost: a.example\n\n", "a.example");           /* bare LF */
    IS_HOST("GET / HTTP/1.1\r\nhOsT:b.example\r\n\r\n", "b.example");       /* any case, no OWS */
    IS_HOST("GET / HTTP/1.1\r\nHost: c.example.\r\n\r\n", "c.example");     /* trailing dot */
    IS_HOST("GET / HTTP/1.1\r\nHost: d.example:\r\n\r\n", "d.example");     /* empty port */
    IS_HOST("POST /x HTTP/1.1\r\nHost: 192.0.2.7:80\r\n\r\n", "192.0.2.7");
    IS_HOST("GET / HTTP/1.1\r\nX-Host: evil.example\r\nHost: ok.example\r\n\r\n", "ok.example");
    IS_HOST("GET / HTTP/1.1\r\nHost: ok.example\r\nX: \x80\xff obs-text\r\n\r\n", "ok.example");
}

TEST(http_captured_curl)
{
    struct http_host_info info;
    is_int(peek_n((const char *)vec_curl_http, vec_curl_http_len, NULL, &info), HTTP_PEEK_HOST_FOUND, "curl");
    is_str(info.host, "files.example.com", "host");
    ok(info.port > 0, "port %d", info.port);
    is_int(info.head_len, vec_curl_http_len, "head");
    is_int(peek_n((const char *)vec_curl_proxy, vec_curl_proxy_len, NULL, &info), HTTP_PEEK_HOST_FOUND,
           "curl -x");
    is_str(info.host, "upstream.example.org", "host");
    is_str(info.target_host, "upstream.example.org", "target host");
    is_int(info.form, HTTP_TARGET_ABSOLUTE, "absolute form");
}

TEST(http_ipv6_literals)
{
    struct http_host_info info;
    is_int(peek("GET / HTTP/1.1\r\nHost: [2001:DB8:0::1]:8443\r\n\r\n", &info), HTTP_PEEK_HOST_FOUND, "v6");
    is_str(info.host, "2001:db8::1", "canonical, no brackets");
    is_int(info.host_kind, L7_HOST_IPV6, "kind");
    is_int(info.port, 8443, "port");
    IS_HOST("GET / HTTP/1.1\r\nHost: [::ffff:192.0.2.1]\r\n\r\n", "::ffff:192.0.2.1");
    IS_RESULT("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: [v1.fe]\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: []\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", HTTP_PEEK_MALFORMED);
}

TEST(http_host_missing)
{
    IS_RESULT("GET / HTTP/1.0\r\n\r\n", HTTP_PEEK_HOST_MISSING);
    IS_RESULT("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", HTTP_PEEK_HOST_MISSING);
    IS_RESULT("GET / HTTP/1.1\r\nHost:\r\n\r\n", HTTP_PEEK_HOST_MISSING);
    IS_RESULT("GET / HTTP/1.1\r\nHost:   \r\n\r\n", HTTP_PEEK_HOST_MISSING);
    struct http_host_info info;
    is_int(peek("GET / HTTP/1.0\n\n", &info), HTTP_PEEK_HOST_MISSING, "head_len is set");
    is_int(info.head_len, 16, "head_len");
}

TEST(http_bad_host_values)
{
    IS_RESULT("GET / HTTP/1.1\r\nHost: a b.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: exa%6dple.com\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: a.example:70000\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: a.example:80x\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: a.example:80:80\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: user@a.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: 127.1\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: a..example\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: :80\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: caf\xc3\xa9.example\r\n\r\n", HTTP_PEEK_MALFORMED);
}

TEST(http_malformed_heads)
{
    /* Two Host fields, different or not (RFC 9112 3.2). */
    IS_RESULT("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: a.example\r\nhost: a.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    /* obs-fold, also on the Host line itself. */
    IS_RESULT("GET / HTTP/1.1\r\nHost: a.example\r\nX: 1\r\n 2\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost:\r\n\ta.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\n Host: a.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    /* Whitespace before the colon, no colon, empty name. */
    IS_RESULT("GET / HTTP/1.1\r\nHost : a.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost a.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\n: a.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    /* Control bytes and a bare CR. */
    IS_RESULT("GET / HTTP/1.1\r\nHost: a.example\r\nX: a\x01z\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nHost: a.example\rX: y\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET / HTTP/1.1\r\nX: \x7f\r\n\r\n", HTTP_PEEK_MALFORMED);
    struct http_host_info info;
    is_int(peek_n("GET / HTTP/1.1\r\nHost: a\0.example\r\n\r\n", 36, NULL, &info), HTTP_PEEK_MALFORMED, "NUL");
}

TEST(http_request_line)
{
    static const char *const not_http[] = {
        "\x16\x03\x01", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\n", "GET / HTTP/2.0\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 200 OK\r\n", "GET / HTTP/1.1 \r\n",
        "GET / http/1.1\r\n", "GET /\x01 HTTP/1.1\r\n", "GET / HTTP/1.1\rX", "G(T / HTTP/1.1\r\n",
        " GET / HTTP/1.1\r\n", "\r\nGET / HTTP/1.1\r\n", "GET / HTTP/1.10\r\n",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ / HTTP/1.1\r\n",
    };
    for (size_t i = 0; i < ARRAY_SIZE(not_http); i++)
        IS_RESULT(not_http[i], HTTP_PEEK_NOT_HTTP);
    struct http_host_info info;
    is_int(peek("G\x01", &info), HTTP_PEEK_NOT_HTTP, "told at the second byte");
    is_int(peek("GET /", &info), HTTP_PEEK_NEED_MORE, "a plausible start");
    is_int(info.need, 6, "one more byte");
    is_int(peek("M-SEARCH * HTTP/1.1\r\nHost: a.example\r\n\r\n", &info), HTTP_PEEK_HOST_FOUND, "token method");
    is_str(info.method, "M-SEARCH", "method");
    is_int(info.form, HTTP_TARGET_ASTERISK, "asterisk form");
    IS_RESULT("GET example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", HTTP_PEEK_MALFORMED);
}

TEST(http_absolute_and_authority_forms)
{
    struct http_host_info info;
    is_int(peek("GET HTTP://A.Example:8080/x?y HTTP/1.1\r\n\r\n", &info), HTTP_PEEK_HOST_FOUND, "no Host");
    is_str(info.host, "a.example", "host from target");
    ok(info.host_from_target, "flagged");
    is_int(info.port, 8080, "port");
    is_int(info.target_port, 8080, "target port");
    is_int(peek("GET https://a.example/ HTTP/1.1\r\nHost: A.EXAMPLE:443\r\n\r\n", &info),
           HTTP_PEEK_HOST_FOUND, "same host, other port spelling");
    is_int(info.port, 443, "Host's port");
    is_int(info.target_port, -1, "no target port");
    ok(!info.host_from_target, "from Host");
    IS_HOST("GET http://[::1]:81 HTTP/1.0\r\n\r\n", "::1");
    IS_HOST("GET http://a.example?q HTTP/1.1\r\nHost: a.example\r\n\r\n", "a.example");
    IS_HOST("GET http://a.example#f HTTP/1.1\r\nHost:\r\n\r\n", "a.example");
    IS_RESULT("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET http://allowed.example@evil.example/ HTTP/1.1\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET http://user:pw@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET ftp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET http:///x HTTP/1.1\r\nHost: a.example\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("GET http://a b HTTP/1.1\r\n\r\n", HTTP_PEEK_NOT_HTTP);

    is_int(peek("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", &info),
           HTTP_PEEK_HOST_FOUND, "CONNECT");
    is_int(info.form, HTTP_TARGET_AUTHORITY, "authority form");
    is_str(info.target_host, "a.example", "target host");
    is_int(info.target_port, 443, "target port");
    IS_RESULT("CONNECT a.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("CONNECT a.example HTTP/1.1\r\n\r\n", HTTP_PEEK_MALFORMED);
    IS_RESULT("CONNECT / HTTP/1.1\r\nHost: a.example\r\n\r\n", HTTP_PEEK_MALFORMED);
}

TEST(http_bounds)
{
    struct http_host_info info;
    struct http_peek_limits lim = { .max_head = 64, .max_line = 20 };
    const char *fits = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
    is_int(peek_n(fits, strlen(fits), &lim, &info), HTTP_PEEK_HOST_FOUND, "within bounds");
    const char *long_line = "GET / HTTP/1.1\r\nHost: a.example\r\nX: 012345678901234567\r\n\r\n";
    is_int(peek_n(long_line, strlen(long_line), &lim, &info), HTTP_PEEK_MALFORMED, "field line of 21");
    is_int(peek_n(long_line, 54, &lim, &info), HTTP_PEEK_MALFORMED, "told before its end");
    is_int(peek_n(long_line, 53, &lim, &info), HTTP_PEEK_NEED_MORE, "20 bytes so far");
    const char *exact = "GET / HTTP/1.1\r\nHost: a.example\r\nX: 01234567890123456\r\n\r\n";
    is_int(peek_n(exact, strlen(exact), &lim, &info), HTTP_PEEK_HOST_FOUND, "line of exactly 20");
    const char *big = "GET / HTTP/1.1\r\nHost: a.example\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n";
    is_int(peek_n(big, strlen(big), &lim, &info), HTTP_PEEK_TOO_LARGE, "head over 64");
    is_int(peek_n(big, 64, &lim, &info), HTTP_PEEK_TOO_LARGE, "told at 64 bytes");
    is_int(peek_n(big, 63, &lim, &info), HTTP_PEEK_NEED_MORE, "not before");
    lim.max_head = (size_t)(strstr(big, "\r\n\r\n") - big) + 4;
    is_int(peek_n(big, strlen(big), &lim, &info), HTTP_PEEK_HOST_FOUND, "head of exactly max_head");
    lim.max_head--;
    is_int(peek_n(big, strlen(big), &lim, &info), HTTP_PEEK_TOO_LARGE, "one byte more");

    /* A long target counts against the head, not the line bound. */
    static char url[HTTP_PEEK_DEFAULT_MAX_HEAD + 64];
    strcpy(url, "GET /");
    memset(url + 5, 'a', HTTP_PEEK_DEFAULT_MAX_LINE + 100);
    strcpy(url + 5 + HTTP_PEEK_DEFAULT_MAX_LINE + 100, " HTTP/1.1\r\nHost: a.example\r\n\r\n");
    is_int(peek(url, &info), HTTP_PEEK_HOST_FOUND, "long URL");
    memset(url + 5, 'a', HTTP_PEEK_DEFAULT_MAX_HEAD);
    is_int(peek(url, &info), HTTP_PEEK_TOO_LARGE, "URL past the head bound");
    is_int(peek_n(url, HTTP_PEEK_DEFAULT_MAX_HEAD - 1, NULL, &info), HTTP_PEEK_NEED_MORE, "still arriving");
}

/* Every prefix shorter than the whole is NEED_MORE; the whole gives want. */
static void check_every_prefix(const char *req, size_t n, enum http_peek_result want, const char *host)
{
    struct http_host_info info;
    size_t bad = 0;
    for (size_t l = 0; l < n; l++)
        if (peek_n(req, l, NULL, &info) != HTTP_PEEK_NEED_MORE || info.need != l + 1)
            bad++;
    is_int(bad, 0, "prefixes of %zu bytes", n);
    is_int(peek_n(req, n, NULL, &info), want, "whole");
    is_str(info.host, host, "host");
}

TEST(http_every_split)
{
    const char *req = "GET http://Mixed.Example/ HTTP/1.1\r\nHost: mixed.example:80\r\nX: y\r\n\r\n";
    check_every_prefix(req, strlen(req), HTTP_PEEK_HOST_FOUND, "mixed.example");
    check_every_prefix((const char *)vec_curl_http, vec_curl_http_len, HTTP_PEEK_HOST_FOUND,
                       "files.example.com");
    const char *lf = "PUT /a HTTP/1.0\nContent-Length: 0\n\n";
    check_every_prefix(lf, strlen(lf), HTTP_PEEK_HOST_MISSING, "");
}

TEST(http_decided_once_complete)
{
    /* A MALFORMED line is told as soon as it is complete, whatever follows. */
    const char *req = "GET / HTTP/1.1\r\nHost : a.example\r\n";
    struct http_host_info info;
    is_int(peek_n(req, strlen(req) - 1, NULL, &info), HTTP_PEEK_NEED_MORE, "line still arriving");
    is_int(peek(req, &info), HTTP_PEEK_MALFORMED, "line complete");
}
