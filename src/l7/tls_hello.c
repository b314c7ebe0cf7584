/* tls_hello.c: find the server_name of a TLS ClientHello without terminating
 * TLS, over a buffer that grows as the client's bytes arrive.
 *
 * The handshake message may be split over several handshake records and each
 * record over several reads, so every call walks the records from the start
 * of the buffer, copies the handshake bytes into a bounded local buffer, and
 * parses the ClientHello once all of it is there. Every decision depends only
 * on the bytes before the point where it is taken, which is what makes the
 * answers monotone as the buffer grows (see peek.h). */
#include <string.h>

#include "base/strtab.h"
#include "l7/peek.h"

#define TLS_RECORD_HEADER 5
#define TLS_RECORD_MAX 16384u           /* TLSPlaintext.length limit, RFC 8446 5.1 */
#define TLS_CONTENT_HANDSHAKE 0x16
#define TLS_HS_CLIENT_HELLO 1
#define TLS_HS_HEADER 4                 /* msg_type, uint24 length */
/* legacy_version 2, random 32, session_id<0..32> 1, cipher_suites<2..> 2+2,
 * compression_methods<1..> 1+1: the smallest body that can be a ClientHello. */
#define TLS_HELLO_MIN_BODY 41u
#define TLS_RANDOM_LEN 32
#define TLS_SESSION_ID_MAX 32
#define TLS_EXT_SERVER_NAME 0x0000
#define TLS_EXT_ECH 0xfe0d              /* encrypted_client_hello */
#define TLS_EXT_ESNI_DRAFT 0xffce       /* its predecessor, still seen in the wild */
#define SNI_NAME_TYPE_HOST 0

#define SSL2_HEADER 2
#define SSL2_MT_CLIENT_HELLO 1
#define SSL2_HELLO_FIXED 9              /* msg type 1, version 2, three uint16 lengths */
#define SSL2_CIPHER_SPEC_LEN 3
#define SSL2_CHALLENGE_MIN 16
#define SSL2_CHALLENGE_MAX 32
#define SSL2_SESSION_ID_LEN 16

/* ---- sniffing and names ------------------------------------------------ */

enum l7_proto l7_sniff(const uint8_t *buf, size_t len)
{
    if (len == 0)
        return L7_PROTO_UNKNOWN;
    if (buf[0] == TLS_CONTENT_HANDSHAKE || (buf[0] & 0x80))
        return L7_PROTO_TLS;
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        return L7_PROTO_HTTP;
    return L7_PROTO_UNKNOWN;
}

static const struct strtab_entry proto_names[] = {
    { L7_PROTO_UNKNOWN, "unknown" },
    { L7_PROTO_TLS, "tls" },
    { L7_PROTO_HTTP, "http" },
};

const char *l7_proto_name(enum l7_proto p)
{
    const char *name = strtab_name(proto_names, ARRAY_SIZE(proto_names), (int)p);
    return name ? name : "unknown";
}

static const struct strtab_entry tls_result_names[] = {
    { TLS_PEEK_NEED_MORE, "need_more" },
    { TLS_PEEK_SNI_FOUND, "sni_found" },
    { TLS_PEEK_SNI_MISSING, "sni_missing" },
    { TLS_PEEK_NOT_TLS, "not_tls" },
    { TLS_PEEK_MALFORMED, "malformed" },
};

/* A ClientHello we cannot read gives no usable name: the closest contract
 * reason is l7_sni_missing (the protocol itself is known to be TLS). */
static const struct strtab_entry tls_deny_reasons[] = {
    { TLS_PEEK_SNI_MISSING, "l7_sni_missing" },
    { TLS_PEEK_MALFORMED, "l7_sni_missing" },
    { TLS_PEEK_NOT_TLS, "l7_unknown_protocol" },
};

const char *tls_peek_result_name(enum tls_peek_result r)
{
    return strtab_name(tls_result_names, ARRAY_SIZE(tls_result_names), (int)r);
}

const char *tls_peek_deny_reason(enum tls_peek_result r)
{
    return strtab_name(tls_deny_reasons, ARRAY_SIZE(tls_deny_reasons), (int)r);
}

/* ---- a bounds-checked reader ------------------------------------------- */

/* Every take checks the bytes left first and moves nothing on failure. */
struct cursor {
    const uint8_t *p;
    size_t left;
};

static bool take_bytes(struct cursor *c, size_t n, struct cursor *sub)
{
    if (c->left < n)
        return false;
    if (sub)
        *sub = (struct cursor){ c->p, n };
    c->p += n;
    c->left -= n;
    return true;
}

static bool take_uint(struct cursor *c, size_t width, size_t *v)
{
    if (c->left < width)
        return false;
    size_t x = 0;
    for (size_t i = 0; i < width; i++)
        x = x << 8 | c->p[i];
    c->p += width;
    c->left -= width;
    *v = x;
    return true;
}

/* A TLS vector: a big-endian length of `width` bytes, then that many bytes. */
static bool take_vector(struct cursor *c, size_t width, struct cursor *sub)
{
    struct cursor save = *c;
    size_t n;
    if (take_uint(c, width, &n) && take_bytes(c, n, sub))
        return true;
    *c = save;
    return false;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static enum tls_peek_result need_more(struct tls_hello_info *info, size_t need)
{
    info->need = need;
    return TLS_PEEK_NEED_MORE;
}

/* ---- the ClientHello body ---------------------------------------------- */

/* RFC 6066 3: ServerNameList server_name_list<1..2^16-1>; each entry a
 * NameType byte and (for every type in use, and by common practice for
 * unknown ones) an opaque<1..2^16-1>. */
static enum tls_peek_result parse_server_name(struct cursor ext, struct tls_hello_info *info)
{
    struct cursor list;
    if (!take_vector(&ext, 2, &list) || ext.left != 0 || list.left == 0)
        return TLS_PEEK_MALFORMED;
    bool found = false;
    while (list.left > 0) {
        size_t type;
        struct cursor name;
        if (!take_uint(&list, 1, &type) || !take_vector(&list, 2, &name) || name.left == 0)
            return TLS_PEEK_MALFORMED;
        if (type != SNI_NAME_TYPE_HOST)
            continue;
        /* "The ServerNameList MUST NOT contain more than one name of the
         * same name_type": a second host_name could be read differently by
         * the server than by us, so refuse rather than pick one. */
        if (found)
            return TLS_PEEK_MALFORMED;
        if (l7_host_normalize((const char *)name.p, name.left, info->host, &info->host_kind) < 0)
            return TLS_PEEK_MALFORMED;
        found = true;
    }
    return found ? TLS_PEEK_SNI_FOUND : TLS_PEEK_SNI_MISSING;
}

static enum tls_peek_result parse_extensions(struct cursor exts, struct tls_hello_info *info)
{
    enum tls_peek_result result = TLS_PEEK_SNI_MISSING;
    bool seen_server_name = false;
    while (exts.left > 0) {
        size_t type;
        struct cursor data;
        if (!take_uint(&exts, 2, &type) || !take_vector(&exts, 2, &data))
            return TLS_PEEK_MALFORMED;
        if (type == TLS_EXT_SERVER_NAME) {
            /* RFC 8446 4.2: at most one extension of each type. */
            if (seen_server_name)
                return TLS_PEEK_MALFORMED;
            seen_server_name = true;
            result = parse_server_name(data, info);
            if (result == TLS_PEEK_MALFORMED)
                return result;
        } else if (type == TLS_EXT_ECH || type == TLS_EXT_ESNI_DRAFT) {
            info->ech = true;
        }
        /* Anything else, GREASE included, is skipped by its length. */
    }
    return result;
}

static enum tls_peek_result parse_client_hello(struct cursor body, struct tls_hello_info *info)
{
    size_t version;
    struct cursor session_id, suites, compressions, exts;
    if (!take_uint(&body, 2, &version) || (version >> 8) != 3)
        return TLS_PEEK_MALFORMED;
    info->legacy_version = (uint16_t)version;
    if (!take_bytes(&body, TLS_RANDOM_LEN, NULL) ||
        !take_vector(&body, 1, &session_id) || session_id.left > TLS_SESSION_ID_MAX ||
        !take_vector(&body, 2, &suites) || suites.left < 2 || suites.left % 2 != 0 ||
        !take_vector(&body, 1, &compressions) || compressions.left < 1)
        return TLS_PEEK_MALFORMED;
    /* Hellos from before TLS extensions end here; they carry no name. */
    if (body.left == 0)
        return TLS_PEEK_SNI_MISSING;
    if (!take_vector(&body, 2, &exts) || body.left != 0)
        return TLS_PEEK_MALFORMED;
    return parse_extensions(exts, info);
}

/* ---- record reassembly -------------------------------------------------- */

struct handshake {
    uint8_t bytes[TLS_HS_HEADER + TLS_HELLO_MAX_BODY];
    size_t have;
    size_t want;        /* TLS_HS_HEADER until the header is known */
};

/* Once the handshake header is in: it must announce a ClientHello of a size
 * we accept, which tells how many bytes are still to come. */
static bool handshake_header_ok(struct handshake *hs)
{
    const uint8_t *h = hs->bytes;
    size_t body = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    if (h[0] != TLS_HS_CLIENT_HELLO || body < TLS_HELLO_MIN_BODY || body > TLS_HELLO_MAX_BODY)
        return false;
    hs->want = TLS_HS_HEADER + body;
    return true;
}

/* Copy what the handshake still wants from one record's payload. False when
 * the handshake header turns out bad. */
static bool absorb(struct handshake *hs, const uint8_t *payload, size_t avail)
{
    size_t off = 0;
    while (off < avail && hs->have < hs->want) {
        size_t n = min_size(avail - off, hs->want - hs->have);
        memcpy(hs->bytes + hs->have, payload + off, n);
        hs->have += n;
        off += n;
        if (hs->want == TLS_HS_HEADER && hs->have == TLS_HS_HEADER && !handshake_header_ok(hs))
            return false;
    }
    return true;
}

/* A record header must be a handshake record of TLS major version 3 and of a
 * length RFC 8446 allows, within the input bound. */
static bool record_header_ok(const uint8_t *h, size_t pos, size_t *rlen)
{
    size_t n = (size_t)h[3] << 8 | h[4];
    if (h[0] != TLS_CONTENT_HANDSHAKE || h[1] != 3 || n == 0 || n > TLS_RECORD_MAX ||
        pos + TLS_RECORD_HEADER + n > TLS_HELLO_PEEK_MAX_INPUT)
        return false;
    *rlen = n;
    return true;
}

static enum tls_peek_result peek_records(const uint8_t *buf, size_t len, struct tls_hello_info *info)
{
    struct handshake hs;
    hs.have = 0;
    hs.want = TLS_HS_HEADER;
    size_t pos = 0;
    for (;;) {
        if (pos + TLS_RECORD_HEADER > TLS_HELLO_PEEK_MAX_INPUT)
            return TLS_PEEK_MALFORMED;
        if (len < pos + TLS_RECORD_HEADER)
            return need_more(info, pos + TLS_RECORD_HEADER);
        size_t rlen;
        if (!record_header_ok(buf + pos, pos, &rlen))
            return TLS_PEEK_MALFORMED;
        size_t avail = min_size(rlen, len - pos - TLS_RECORD_HEADER);
        if (!absorb(&hs, buf + pos + TLS_RECORD_HEADER, avail))
            return TLS_PEEK_MALFORMED;
        if (hs.have == hs.want) {
            struct cursor body = { hs.bytes + TLS_HS_HEADER, hs.want - TLS_HS_HEADER };
            return parse_client_hello(body, info);
        }
        if (avail < rlen)   /* the record itself is still arriving */
            return need_more(info, len + min_size(rlen - avail, hs.want - hs.have));
        pos += TLS_RECORD_HEADER + rlen;
    }
}

/* ---- SSLv2-compatible ClientHello -------------------------------------- */

/* A 2-byte header with the high bit set, then CLIENT-HELLO: version, cipher
 * spec, session id and challenge lengths, then the data. It cannot carry
 * extensions, so a well-formed one is SNI_MISSING. */
static enum tls_peek_result peek_sslv2(const uint8_t *buf, size_t len, struct tls_hello_info *info)
{
    if (len < 3)
        return need_more(info, 3);
    if (buf[2] != SSL2_MT_CLIENT_HELLO)
        return TLS_PEEK_NOT_TLS;
    if (len < 5)
        return need_more(info, 5);
    uint16_t version = (uint16_t)(buf[3] << 8 | buf[4]);
    if (buf[3] != 3 && version != 0x0002)
        return TLS_PEEK_NOT_TLS;
    size_t rlen = (size_t)(buf[0] & 0x7f) << 8 | buf[1];
    if (rlen < SSL2_HELLO_FIXED || SSL2_HEADER + rlen > TLS_HELLO_PEEK_MAX_INPUT)
        return TLS_PEEK_MALFORMED;
    if (len < SSL2_HEADER + rlen)
        return need_more(info, SSL2_HEADER + rlen);
    size_t specs = (size_t)buf[5] << 8 | buf[6];
    size_t session = (size_t)buf[7] << 8 | buf[8];
    size_t challenge = (size_t)buf[9] << 8 | buf[10];
    if (specs == 0 || specs % SSL2_CIPHER_SPEC_LEN != 0 ||
        (session != 0 && session != SSL2_SESSION_ID_LEN) ||
        challenge < SSL2_CHALLENGE_MIN || challenge > SSL2_CHALLENGE_MAX ||
        SSL2_HELLO_FIXED + specs + session + challenge != rlen)
        return TLS_PEEK_MALFORMED;
    info->sslv2 = true;
    info->legacy_version = version;
    return TLS_PEEK_SNI_MISSING;
}

/* ---- entry point --------------------------------------------------------- */

static enum tls_peek_result peek(const uint8_t *buf, size_t len, struct tls_hello_info *info)
{
    if (len == 0)
        return need_more(info, 1);
    if (buf[0] & 0x80)
        return peek_sslv2(buf, len, info);
    if (buf[0] != TLS_CONTENT_HANDSHAKE)
        return TLS_PEEK_NOT_TLS;
    if (len < 2)
        return need_more(info, 2);
    if (buf[1] != 3)
        return TLS_PEEK_NOT_TLS;
    return peek_records(buf, len, info);
}

enum tls_peek_result tls_hello_peek(const uint8_t *buf, size_t len, struct tls_hello_info *info)
{
    memset(info, 0, sizeof(*info));
    enum tls_peek_result r = peek(buf, len, info);
    if (r != TLS_PEEK_SNI_FOUND) {
        info->host[0] = '\0';
        info->host_kind = L7_HOST_NAME;
    }
    return r;
}
