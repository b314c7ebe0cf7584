/* test_l7.c: the protocol sniffer, host normalisation and the TLS
 * ClientHello peek, over hellos built here byte by byte and hellos captured
 * from real clients (vectors.h). HTTP is in test_http_host.c. */
#include <stdlib.h>
#include <string.h>

#include "l7/peek.h"
#include "tap.h"
#include "vectors.h"

/* ---- building hellos ------------------------------------------------------ */

struct bytes {
    uint8_t b[70000];
    size_t n;
};

static void put8(struct bytes *o, unsigned v) { o->b[o->n++] = (uint8_t)v; }
static void put16(struct bytes *o, unsigned v) { put8(o, v >> 8); put8(o, v); }
static void put(struct bytes *o, const void *p, size_t n)
{
    if (n)
        memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void putstr(struct bytes *o, const char *s) { put(o, s, strlen(s)); }

/* A length field of `width` bytes whose value is filled by close_len(). */
static size_t open_len(struct bytes *o, size_t width)
{
    size_t at = o->n;
    for (size_t i = 0; i < width; i++)
        put8(o, 0);
    return at;
}

static void close_len(struct bytes *o, size_t at, size_t width)
{
    size_t v = o->n - at - width;
    for (size_t i = 0; i < width; i++)
        o->b[at + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
}

static void ext(struct bytes *exts, unsigned type, const void *data, size_t n)
{
    put16(exts, type);
    put16(exts, (unsigned)n);
    put(exts, data, n);
}

/* A server_name extension listing names of the given types. */
static void sni_ext(struct bytes *exts, size_t count, const unsigned *types, const char *const *names)
{
    put16(exts, 0);
    size_t ext_len = open_len(exts, 2);
    size_t list = open_len(exts, 2);
    for (size_t i = 0; i < count; i++) {
        put8(exts, types[i]);
        size_t name = open_len(exts, 2);
        putstr(exts, names[i]);
        close_len(exts, name, 2);
    }
    close_len(exts, list, 2);
    close_len(exts, ext_len, 2);
}

static void sni_one(struct bytes *exts, const char *name)
{
    unsigned type = 0;
    sni_ext(exts, 1, &type, &name);
}

/* A ClientHello handshake message; exts == NULL: no extensions block. */
static void hello_msg(struct bytes *msg, const struct bytes *exts)
{
    put8(msg, 1);
    size_t len = open_len(msg, 3);
    put16(msg, 0x0303);
    for (int i = 0; i < 32; i++)
        put8(msg, 0xa0 + i);
    put8(msg, 32);                      /* session id */
    for (int i = 0; i < 32; i++)
        put8(msg, i);
    put16(msg, 6);                      /* GREASE, TLS_AES_128_GCM_SHA256, ... */
    put16(msg, 0x3a3a);
    put16(msg, 0x1301);
    put16(msg, 0xc02f);
    put8(msg, 1);
    put8(msg, 0);
    if (exts) {
        put16(msg, (unsigned)exts->n);
        put(msg, exts->b, exts->n);
    }
    close_len(msg, len, 3);
}

/* Wrap a handshake message into records of at most frag payload bytes. */
static void records(struct bytes *wire, const struct bytes *msg, size_t frag)
{
    for (size_t off = 0; off < msg->n; off += frag) {
        size_t n = msg->n - off < frag ? msg->n - off : frag;
        put8(wire, 0x16);
        put16(wire, off == 0 ? 0x0301 : 0x0303);
        put16(wire, (unsigned)n);
        put(wire, msg->b + off, n);
    }
}

/* A whole hello naming `name` in one record. */
static struct bytes *hello_for(const char *name)
{
    struct bytes *exts = calloc(1, sizeof(*exts)), *msg = calloc(1, sizeof(*msg));
    struct bytes *wire = calloc(1, sizeof(*wire));
    ext(exts, 0x0a0a, NULL, 0);         /* GREASE */
    sni_one(exts, name);
    hello_msg(msg, exts);
    records(wire, msg, 16384);
    free(exts);
    free(msg);
    return wire;
}

/* Peek at an exact-size heap copy, so ASan sees any read past len. */
static enum tls_peek_result peek_copy(const uint8_t *p, size_t n, struct tls_hello_info *info)
{
    uint8_t *copy = calloc(n ? n : 1, 1);
    memcpy(copy, p, n);
    enum tls_peek_result r = tls_hello_peek(copy, n, info);
    free(copy);
    return r;
}

static enum tls_peek_result peek_bytes(const struct bytes *w, struct tls_hello_info *info)
{
    return peek_copy(w->b, w->n, info);
}

/* Every prefix shorter than the whole must be NEED_MORE with a need that
 * is past it and no further than the whole; the whole gives `want`. */
static void check_every_prefix(const uint8_t *p, size_t n, enum tls_peek_result want, const char *host)
{
    struct tls_hello_info info;
    size_t bad = 0;
    for (size_t l = 0; l < n; l++) {
        enum tls_peek_result r = peek_copy(p, l, &info);
        if (r != TLS_PEEK_NEED_MORE || info.need <= l || info.need > n)
            bad++;
    }
    is_int(bad, 0, "prefixes of %zu bytes", n);
    is_int(peek_copy(p, n, &info), want, "whole");
    is_str(info.host, host, "host");
}

/* ---- sniffing and names -------------------------------------------------------- */

TEST(sniff_first_byte)
{
    is_int(l7_sniff((const uint8_t *)"\x16\x03", 2), L7_PROTO_TLS, "handshake record");
    is_int(l7_sniff((const uint8_t *)"\x80\x2e", 2), L7_PROTO_TLS, "SSLv2 header");
    is_int(l7_sniff((const uint8_t *)"GET ", 4), L7_PROTO_HTTP, "method");
    is_int(l7_sniff((const uint8_t *)"get ", 4), L7_PROTO_UNKNOWN, "lower-case");
    is_int(l7_sniff((const uint8_t *)"\x00", 1), L7_PROTO_UNKNOWN, "NUL");
    is_int(l7_sniff((const uint8_t *)"SSH-2.0", 0), L7_PROTO_UNKNOWN, "nothing yet");
    is_str(l7_proto_name(L7_PROTO_TLS), "tls", "name");
    is_str(l7_proto_name(L7_PROTO_HTTP), "http", "name");
    is_str(l7_proto_name(L7_PROTO_UNKNOWN), "unknown", "name");
}

TEST(result_names_and_reasons)
{
    is_str(tls_peek_result_name(TLS_PEEK_SNI_FOUND), "sni_found", "name");
    is_str(tls_peek_deny_reason(TLS_PEEK_SNI_MISSING), "l7_sni_missing", "missing");
    is_str(tls_peek_deny_reason(TLS_PEEK_MALFORMED), "l7_sni_missing", "malformed");
    is_str(tls_peek_deny_reason(TLS_PEEK_NOT_TLS), "l7_unknown_protocol", "not tls");
    ok(tls_peek_deny_reason(TLS_PEEK_SNI_FOUND) == NULL, "found: allowlist decides");
    ok(tls_peek_deny_reason(TLS_PEEK_NEED_MORE) == NULL, "need more: nothing yet");
}

TEST(host_normalize_accepts)
{
    char out[L7_HOST_MAX + 1];
    enum l7_host_kind kind;
    struct { const char *in, *out; enum l7_host_kind kind; } cases[] = {
        { "Example.COM", "example.com", L7_HOST_NAME },
        { "example.com.", "example.com", L7_HOST_NAME },
        { "_dmarc.x-y.example", "_dmarc.x-y.example", L7_HOST_NAME },
        { "localhost", "localhost", L7_HOST_NAME },
        { "1.2.3.4", "1.2.3.4", L7_HOST_IPV4 },
        { "3com.com", "3com.com", L7_HOST_NAME },
        { "a.b1", "a.b1", L7_HOST_NAME },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        is_int(l7_host_normalize(cases[i].in, strlen(cases[i].in), out, &kind), 0, "%s", cases[i].in);
        is_str(out, cases[i].out, "%s", cases[i].in);
        is_int(kind, cases[i].kind, "%s", cases[i].in);
    }
}

TEST(host_normalize_rejects)
{
    char label64[80], long_name[300];
    memset(label64, 'a', 64);
    strcpy(label64 + 64, ".com");
    for (int i = 0; i < 127; i++)
        memcpy(long_name + 2 * i, "a.", 2);
    strcpy(long_name + 254, "b");   /* 255 bytes */
    const char *bad[] = {
        "", ".", "..", ".a.com", "a..com", "a.com..", "a b.com", "a%2ecom", "a/b", "a:80",
        "ex\x01mple.com", "caf\xc3\xa9.fr", "a\x7f.com", "127.1", "2130706433", "1.2.3.256",
        "01.2.3.4", "0x7f.0x1", "0x7f000001", "[::1]", "*.example.com", label64, long_name,
    };
    char out[L7_HOST_MAX + 1] = "untouched";
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        is_int(l7_host_normalize(bad[i], strlen(bad[i]), out, NULL), -EINVAL, "\"%s\"", bad[i]);
    is_int(l7_host_normalize("a\0b.com", 7, out, NULL), -EINVAL, "NUL inside");
    is_str(out, "untouched", "out written only on success");
    char max[L7_HOST_MAX + 2];
    memset(max, 'a', sizeof(max));
    for (int i = 63; i < L7_HOST_MAX; i += 64)
        max[i] = '.';
    is_int(l7_host_normalize(max, L7_HOST_MAX, out, NULL), 0, "253 bytes");
    max[L7_HOST_MAX] = '.';
    is_int(l7_host_normalize(max, L7_HOST_MAX + 1, out, NULL), 0, "253 bytes and a trailing dot");
    is_int(l7_host_normalize(max, L7_HOST_MAX + 1, out, NULL) == 0 && strlen(out) == L7_HOST_MAX, 1, "len");
}

/* ---- TLS: the plain cases --------------------------------------------------- */

TEST(tls_sni_found_lowercased)
{
    struct bytes *w = hello_for("API.Example.COM.");
    struct tls_hello_info info;
    is_int(peek_bytes(w, &info), TLS_PEEK_SNI_FOUND, "found");
    is_str(info.host, "api.example.com", "lower case, no trailing dot");
    is_int(info.legacy_version, 0x0303, "version");
    ok(!info.sslv2 && !info.ech, "flags");
    free(w);
}

TEST(tls_captured_clients)
{
    struct tls_hello_info info;
    is_int(peek_copy(vec_openssl_sclient, vec_openssl_sclient_len, &info), TLS_PEEK_SNI_FOUND, "s_client");
    is_str(info.host, "test.example.org", "s_client -servername Test.Example.org");
    is_int(peek_copy(vec_openssl_tls12, vec_openssl_tls12_len, &info), TLS_PEEK_SNI_FOUND, "tls1.2");
    is_str(info.host, "api.example.com", "s_client -tls1_2");
    is_int(peek_copy(vec_curl_tls, vec_curl_tls_len, &info), TLS_PEEK_SNI_FOUND, "curl");
    is_str(info.host, "www.example.net", "curl");
    is_int(peek_copy(vec_openssl_sclient_nosni, vec_openssl_sclient_nosni_len, &info),
           TLS_PEEK_SNI_MISSING, "s_client -noservername");
}

TEST(tls_every_split_of_captured_hellos)
{
    check_every_prefix(vec_openssl_sclient, vec_openssl_sclient_len, TLS_PEEK_SNI_FOUND, "test.example.org");
    check_every_prefix(vec_curl_tls, vec_curl_tls_len, TLS_PEEK_SNI_FOUND, "www.example.net");
    check_every_prefix(vec_openssl_sclient_nosni, vec_openssl_sclient_nosni_len, TLS_PEEK_SNI_MISSING, "");
}

TEST(tls_handshake_over_many_records)
{
    static const size_t frags[] = { 1, 2, 3, 7, 64, 100 };
    for (size_t i = 0; i < ARRAY_SIZE(frags); i++) {
        struct bytes *exts = calloc(1, sizeof(*exts)), *msg = calloc(1, sizeof(*msg));
        struct bytes *wire = calloc(1, sizeof(*wire));
        sni_one(exts, "split.example");
        hello_msg(msg, exts);
        records(wire, msg, frags[i]);
        check_every_prefix(wire->b, wire->n, TLS_PEEK_SNI_FOUND, "split.example");
        free(exts);
        free(msg);
        free(wire);
    }
}

TEST(tls_bytes_after_the_hello_are_ignored)
{
    struct bytes *w = hello_for("a.example");
    static const uint8_t ccs[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03 };
    put(w, ccs, sizeof(ccs));
    struct tls_hello_info info;
    is_int(peek_bytes(w, &info), TLS_PEEK_SNI_FOUND, "CCS and early data after");
    is_str(info.host, "a.example", "host");
    free(w);
}

TEST(tls_need_is_a_lower_bound)
{
    struct bytes *w = hello_for("need.example");
    struct tls_hello_info info;
    is_int(peek_copy(w->b, 0, &info), TLS_PEEK_NEED_MORE, "empty");
    is_int(info.need, 1, "first byte");
    is_int(peek_copy(w->b, 1, &info), TLS_PEEK_NEED_MORE, "one byte");
    is_int(info.need, 2, "version byte");
    is_int(peek_copy(w->b, 2, &info), TLS_PEEK_NEED_MORE, "two bytes");
    is_int(info.need, 5, "record header");
    is_int(peek_copy(w->b, 5, &info), TLS_PEEK_NEED_MORE, "header only");
    is_int(info.need, 9, "handshake header");
    is_int(peek_copy(w->b, 9, &info), TLS_PEEK_NEED_MORE, "handshake header");
    is_int(info.need, w->n, "the whole hello");
    free(w);
}

/* ---- TLS: what has no name ---------------------------------------------------- */

TEST(tls_sni_missing)
{
    struct tls_hello_info info;
    struct bytes *msg = calloc(1, sizeof(*msg)), *wire = calloc(1, sizeof(*wire));
    hello_msg(msg, NULL);
    records(wire, msg, 16384);
    is_int(peek_bytes(wire, &info), TLS_PEEK_SNI_MISSING, "no extensions block");

    struct bytes *exts = calloc(1, sizeof(*exts));
    static const uint8_t versions[] = { 0x04, 0x03, 0x04, 0x03, 0x03 };
    ext(exts, 0x002b, versions, sizeof(versions));
    msg->n = wire->n = 0;
    hello_msg(msg, exts);
    records(wire, msg, 16384);
    is_int(peek_bytes(wire, &info), TLS_PEEK_SNI_MISSING, "extensions without server_name");

    unsigned type = 7;
    const char *name = "other.example";
    sni_ext(exts, 1, &type, &name);
    msg->n = wire->n = 0;
    hello_msg(msg, exts);
    records(wire, msg, 16384);
    is_int(peek_bytes(wire, &info), TLS_PEEK_SNI_MISSING, "only an unknown name type");
    is_str(info.host, "", "no host");
    free(exts);
    free(msg);
    free(wire);
}

static enum tls_peek_result peek_sni_list(size_t count, const unsigned *types, const char *const *names,
                                          struct tls_hello_info *info)
{
    struct bytes *exts = calloc(1, sizeof(*exts)), *msg = calloc(1, sizeof(*msg));
    struct bytes *wire = calloc(1, sizeof(*wire));
    sni_ext(exts, count, types, names);
    hello_msg(msg, exts);
    records(wire, msg, 16384);
    enum tls_peek_result r = peek_bytes(wire, info);
    free(exts);
    free(msg);
    free(wire);
    return r;
}

TEST(tls_server_name_list)
{
    struct tls_hello_info info;
    const unsigned other_then_host[] = { 9, 0 };
    const char *const names[] = { "ignored.example", "real.example" };
    is_int(peek_sni_list(2, other_then_host, names, &info), TLS_PEEK_SNI_FOUND, "other type skipped");
    is_str(info.host, "real.example", "the host_name");
    const unsigned two_hosts[] = { 0, 0 };
    is_int(peek_sni_list(2, two_hosts, names, &info), TLS_PEEK_MALFORMED, "two host_names");
    const char *const same[] = { "a.example", "a.example" };
    is_int(peek_sni_list(2, two_hosts, same, &info), TLS_PEEK_MALFORMED, "even equal ones");
    is_str(info.host, "", "no host on MALFORMED");
    is_int(peek_sni_list(0, NULL, NULL, &info), TLS_PEEK_MALFORMED, "empty list");
}

TEST(tls_bad_names)
{
#define RAW(s) { s, sizeof(s) - 1 }
    static const struct { const char *s; size_t n; } bad[] = {
        RAW(""), RAW("a\0.example"), RAW("evil.example\0.ok.example"), RAW("a b.example"),
        RAW("a\r\nb.example"), RAW("a..example"), RAW("xn--caf\xc3\xa9"), RAW("127.1"),
        RAW("a/b"), RAW("*.example"), RAW("a.example\xff"),
    };
#undef RAW
    struct tls_hello_info info;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct bytes *exts = calloc(1, sizeof(*exts)), *msg = calloc(1, sizeof(*msg));
        struct bytes *wire = calloc(1, sizeof(*wire));
        size_t n = bad[i].n;
        put16(exts, 0);
        put16(exts, (unsigned)(n + 5));
        put16(exts, (unsigned)(n + 3));
        put8(exts, 0);
        put16(exts, (unsigned)n);
        put(exts, bad[i].s, n);
        hello_msg(msg, exts);
        records(wire, msg, 16384);
        is_int(peek_bytes(wire, &info), TLS_PEEK_MALFORMED, "name %zu", i);
        is_str(info.host, "", "no host");
        free(exts);
        free(msg);
        free(wire);
    }
}

TEST(tls_ipv4_literal_is_reported_as_such)
{
    struct bytes *w = hello_for("192.0.2.1");
    struct tls_hello_info info;
    is_int(peek_bytes(w, &info), TLS_PEEK_SNI_FOUND, "found");
    is_int(info.host_kind, L7_HOST_IPV4, "kind");
    free(w);
}

/* ---- TLS: big modern hellos --------------------------------------------------- */

TEST(tls13_hello_with_many_extensions_and_grease)
{
    struct bytes *exts = calloc(1, sizeof(*exts)), *msg = calloc(1, sizeof(*msg));
    struct bytes *wire = calloc(1, sizeof(*wire));
    static const uint8_t one[] = { 0 };
    static uint8_t key_share[11000];
    ext(exts, 0x1a1a, NULL, 0);                         /* GREASE, empty */
    ext(exts, 0x0017, NULL, 0);                         /* extended_master_secret */
    sni_one(exts, "Big.Example.Org");
    ext(exts, 0xff01, one, 1);                          /* renegotiation_info */
    ext(exts, 0x002b, "\x06\x6a\x6a\x03\x04\x03\x03", 7);  /* supported_versions w/ GREASE */
    ext(exts, 0x0033, key_share, 1300);                 /* a post-quantum sized key_share */
    ext(exts, 0x0010, "\x00\x0c\x02h2\x08http/1.1", 14);  /* ALPN */
    ext(exts, 0xfe0d, "\x00\x00\x01\x00\x01", 5);       /* ECH outer */
    for (unsigned t = 0x4000; t < 0x4000 + 200; t++)    /* many unknown ones */
        ext(exts, t, "xyz", t % 4);
    ext(exts, 0xdada, one, 1);                          /* GREASE, one byte */
    ext(exts, 0x0015, key_share, 11000);                /* padding to well over 12 KiB */
    hello_msg(msg, exts);
    ok(msg->n > 12000 && msg->n <= 4 + TLS_HELLO_MAX_BODY, "size %zu", msg->n);
    records(wire, msg, 16384);
    struct tls_hello_info info;
    is_int(peek_bytes(wire, &info), TLS_PEEK_SNI_FOUND, "found");
    is_str(info.host, "big.example.org", "host");
    ok(info.ech, "ECH offered");
    wire->n = 0;
    records(wire, msg, 5000);                           /* three records */
    is_int(peek_bytes(wire, &info), TLS_PEEK_SNI_FOUND, "found over records");
    free(exts);
    free(msg);
    free(wire);
}

TEST(tls_hello_over_the_bounds)
{
    struct bytes *exts = calloc(1, sizeof(*exts)), *msg = calloc(1, sizeof(*msg));
    struct bytes *wire = calloc(1, sizeof(*wire));
    static uint8_t pad[TLS_HELLO_MAX_BODY];
    sni_one(exts, "a.example");
    ext(exts, 0x0015, pad, TLS_HELLO_MAX_BODY - 100);   /* the body just over the bound */
    hello_msg(msg, exts);
    ok(msg->n > 4 + TLS_HELLO_MAX_BODY, "size %zu", msg->n);
    records(wire, msg, 16384);
    struct tls_hello_info info;
    is_int(peek_copy(wire->b, 9, &info), TLS_PEEK_MALFORMED, "told from the handshake header");

    exts->n = msg->n = wire->n = 0;
    sni_one(exts, "a.example");
    ext(exts, 0x0015, pad, 6000);
    hello_msg(msg, exts);
    records(wire, msg, 1);                              /* 6 bytes on the wire per byte */
    ok(wire->n > TLS_HELLO_PEEK_MAX_INPUT, "wire %zu", wire->n);
    is_int(peek_bytes(wire, &info), TLS_PEEK_MALFORMED, "records past the input bound");
    is_int(peek_copy(wire->b, TLS_HELLO_PEEK_MAX_INPUT, &info), TLS_PEEK_MALFORMED, "told within it");
    free(exts);
    free(msg);
    free(wire);
}

/* ---- TLS: broken framing ----------------------------------------------------- */

static enum tls_peek_result peek_patched(size_t at, uint8_t value, struct tls_hello_info *info)
{
    struct bytes *w = hello_for("p.example");
    w->b[at] = value;
    enum tls_peek_result r = peek_bytes(w, info);
    free(w);
    return r;
}

TEST(tls_not_tls)
{
    struct tls_hello_info info;
    is_int(peek_copy((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &info), TLS_PEEK_NOT_TLS, "HTTP");
    is_int(peek_copy((const uint8_t *)"SSH-2.0-x\r\n", 11, &info), TLS_PEEK_NOT_TLS, "SSH");
    is_int(peek_copy((const uint8_t *)"\x16\x02", 2, &info), TLS_PEEK_NOT_TLS, "major version 2");
    is_int(peek_copy((const uint8_t *)"\x17\x03\x03\x00\x01", 5, &info), TLS_PEEK_NOT_TLS, "app data");
    is_int(peek_copy((const uint8_t *)"\x80\x10\x02", 3, &info), TLS_PEEK_NOT_TLS, "SSLv2 non-hello");
    is_int(peek_copy((const uint8_t *)"\x85\x10\x01\x05\x00", 5, &info), TLS_PEEK_NOT_TLS,
           "SSLv2 header, odd version");
    is_int(peek_patched(1, 0x04, &info), TLS_PEEK_NOT_TLS, "record major 4");
}

TEST(tls_malformed_framing)
{
    struct tls_hello_info info;
    is_int(peek_copy((const uint8_t *)"\x16\x03\x01\x00\x00", 5, &info), TLS_PEEK_MALFORMED, "empty record");
    is_int(peek_copy((const uint8_t *)"\x16\x03\x01\x40\x01", 5, &info), TLS_PEEK_MALFORMED,
           "record over 2^14");
    is_int(peek_patched(5, 2, &info), TLS_PEEK_MALFORMED, "ServerHello");
    is_int(peek_patched(6, 1, &info), TLS_PEEK_MALFORMED, "handshake length past the bound");
    is_int(peek_copy((const uint8_t *)"\x16\x03\x01\x00\x04\x01\x00\x00\x10", 9, &info),
           TLS_PEEK_MALFORMED, "a body too small for a hello");

    /* A handshake interleaved with another record type. */
    struct bytes *exts = calloc(1, sizeof(*exts)), *msg = calloc(1, sizeof(*msg));
    struct bytes *wire = calloc(1, sizeof(*wire));
    sni_one(exts, "a.example");
    hello_msg(msg, exts);
    records(wire, msg, 50);
    wire->b[55] = 0x15;                                  /* second record: alert */
    is_int(peek_bytes(wire, &info), TLS_PEEK_MALFORMED, "alert inside a handshake");
    wire->b[55] = 0x16;
    wire->b[56] = 0x02;
    is_int(peek_bytes(wire, &info), TLS_PEEK_MALFORMED, "second record major 2");
    free(exts);
    free(msg);
    free(wire);
}

/* Offsets in hello_for()'s output: record 5, handshake 4, version 2, random 32. */
enum { AT_VERSION = 9, AT_SESSION = 43, AT_SUITES = 76, AT_COMP = 84, AT_EXTS = 86 };

TEST(tls_malformed_body)
{
    struct tls_hello_info info;
    is_int(peek_patched(AT_VERSION, 0x02, &info), TLS_PEEK_MALFORMED, "client_version 2.x");
    is_int(peek_patched(AT_SESSION, 33, &info), TLS_PEEK_MALFORMED, "session id over 32");
    is_int(peek_patched(AT_SESSION, 200, &info), TLS_PEEK_MALFORMED, "session id past the body");
    is_int(peek_patched(AT_SUITES + 1, 5, &info), TLS_PEEK_MALFORMED, "odd cipher suites");
    is_int(peek_patched(AT_SUITES + 1, 0, &info), TLS_PEEK_MALFORMED, "no cipher suites");
    is_int(peek_patched(AT_COMP, 0, &info), TLS_PEEK_MALFORMED, "no compression methods");
    is_int(peek_patched(AT_EXTS + 1, 1, &info), TLS_PEEK_MALFORMED, "extensions shorter than the body");
    is_int(peek_patched(AT_EXTS, 0x40, &info), TLS_PEEK_MALFORMED, "extensions past the body");
    is_int(peek_patched(AT_EXTS + 5, 0x40, &info), TLS_PEEK_MALFORMED, "one extension past the block");
    is_int(peek_patched(AT_EXTS + 11, 0x10, &info), TLS_PEEK_MALFORMED, "server_name list too long");
    is_int(peek_patched(AT_VERSION, 0x03, &info), TLS_PEEK_SNI_FOUND, "the unpatched hello is fine");

    /* Bytes after the extensions, inside the handshake length. */
    struct bytes *w = hello_for("t.example");
    w->b[4]++;
    w->b[8]++;
    put8(w, 0);
    is_int(peek_bytes(w, &info), TLS_PEEK_MALFORMED, "trailing byte in the body");
    free(w);
}

TEST(tls_duplicate_server_name_extension)
{
    struct bytes *exts = calloc(1, sizeof(*exts)), *msg = calloc(1, sizeof(*msg));
    struct bytes *wire = calloc(1, sizeof(*wire));
    sni_one(exts, "first.example");
    sni_one(exts, "second.example");
    hello_msg(msg, exts);
    records(wire, msg, 16384);
    struct tls_hello_info info;
    is_int(peek_bytes(wire, &info), TLS_PEEK_MALFORMED, "two server_name extensions");
    free(exts);
    free(msg);
    free(wire);
}

/* ---- SSLv2-compatible hellos ------------------------------------------------- */

static void sslv2_hello(struct bytes *w, unsigned version, size_t specs, size_t session, size_t challenge)
{
    size_t body = 9 + specs + session + challenge;
    put8(w, 0x80 | (unsigned)(body >> 8));
    put8(w, (unsigned)(body & 0xff));
    put8(w, 1);
    put16(w, version);
    put16(w, (unsigned)specs);
    put16(w, (unsigned)session);
    put16(w, (unsigned)challenge);
    for (size_t i = 0; i < specs + session + challenge; i++)
        put8(w, (unsigned)i);
}

TEST(tls_sslv2_compatible_hello)
{
    struct bytes *w = calloc(1, sizeof(*w));
    struct tls_hello_info info;
    sslv2_hello(w, 0x0301, 3 * 20, 0, 32);
    is_int(peek_bytes(w, &info), TLS_PEEK_SNI_MISSING, "v3 in v2 framing");
    ok(info.sslv2, "flagged");
    is_int(info.legacy_version, 0x0301, "version");
    check_every_prefix(w->b, w->n, TLS_PEEK_SNI_MISSING, "");
    w->n = 0;
    sslv2_hello(w, 0x0002, 3, 16, 16);
    is_int(peek_bytes(w, &info), TLS_PEEK_SNI_MISSING, "pure SSLv2");
    static const size_t bad[][3] = { { 4, 0, 16 }, { 0, 0, 16 }, { 3, 8, 16 }, { 3, 0, 15 }, { 3, 0, 33 } };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        w->n = 0;
        sslv2_hello(w, 0x0301, bad[i][0], bad[i][1], bad[i][2]);
        is_int(peek_bytes(w, &info), TLS_PEEK_MALFORMED, "case %zu", i);
    }
    w->n = 0;
    sslv2_hello(w, 0x0301, 3, 0, 16);
    w->b[1]++;                                           /* header one byte longer */
    put8(w, 0);
    is_int(peek_bytes(w, &info), TLS_PEEK_MALFORMED, "lengths do not add up");
    is_int(peek_copy((const uint8_t *)"\x80\x05\x01\x03\x01", 5, &info), TLS_PEEK_MALFORMED, "too short");
    free(w);
}

TAP_MAIN
