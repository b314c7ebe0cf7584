/* peek.h: pure, bounded peek parsers for the SNI/HTTP egress proxy.
 *
 * The proxy accepts a redirected TCP connection, reads what the client sends
 * first into a buffer that grows as bytes arrive, and calls one of these
 * functions on the whole buffer after every read until the answer is not
 * NEED_MORE. They allocate nothing, touch no socket and never read past len.
 *
 * Every function is monotone over a growing buffer: once a prefix gives an
 * answer other than NEED_MORE, every longer buffer with that prefix gives the
 * same answer (and the same host). `need` on NEED_MORE is a lower bound: no
 * buffer shorter than `need` can give another answer, so the caller may wait
 * for that many bytes before calling again. The fuzz targets check both.
 *
 * Hosts are returned normalised the way the allowlist matcher (policy/
 * hostmatch.h) reads names: ASCII lower case, one trailing dot removed,
 * labels of 1..63 bytes from [a-z0-9_-], at most 253 bytes. A name that does
 * not have this shape (NUL, control bytes, spaces, '%', empty labels, ...) is
 * never returned: the request is MALFORMED instead. A dotted-quad IPv4 is
 * returned with kind L7_HOST_IPV4; a last label of only digits that is not a
 * strict dotted quad ("127.1", "2130706433"), and anything inet_aton(3) would
 * read as an address, is MALFORMED so that no resolver can read a "name" as an
 * address the matcher never saw. See docs/l7-peek.md. */
#pragma once
#include "base/base.h"

#define L7_HOST_MAX 253

/* Which parser applies, from the first byte (CONTRACT section 5 `protocol`). */
enum l7_proto {
    L7_PROTO_UNKNOWN,
    L7_PROTO_TLS,   /* 0x16 handshake record, or a high-bit SSLv2 record header */
    L7_PROTO_HTTP,  /* an upper-case ASCII letter, the start of a method */
};

/* L7_PROTO_UNKNOWN also when len is 0. */
enum l7_proto l7_sniff(const uint8_t *buf, size_t len);
/* "tls", "http", "unknown". */
const char *l7_proto_name(enum l7_proto p);

enum l7_host_kind {
    L7_HOST_NAME,
    L7_HOST_IPV4,   /* strict dotted quad */
    L7_HOST_IPV6,   /* HTTP only: a bracketed literal, returned without brackets */
};

/* Normalise name[0..len) as described above into out (NUL-terminated).
 * 0 and *kind on success (kind may be NULL); -EINVAL otherwise, out untouched.
 * Accepts names and dotted quads, never IPv6. */
int l7_host_normalize(const char *name, size_t len, char out[L7_HOST_MAX + 1],
                      enum l7_host_kind *kind);

/* ---- TLS ClientHello --------------------------------------------------- */

/* The ClientHello handshake body is reassembled from up to this many bytes,
 * whatever the record boundaries; larger hellos are MALFORMED. */
#define TLS_HELLO_MAX_BODY 16384u
/* No answer needs more than this many buffered bytes: a hello whose records
 * run past it (e.g. split into one-byte records) is MALFORMED. A proxy may
 * size its peek buffer to this. */
#define TLS_HELLO_PEEK_MAX_INPUT 32768u

enum tls_peek_result {
    TLS_PEEK_NEED_MORE,
    TLS_PEEK_SNI_FOUND,     /* info.host holds the server_name host_name */
    TLS_PEEK_SNI_MISSING,   /* a valid ClientHello without host_name (also SSLv2-compatible hellos) */
    TLS_PEEK_NOT_TLS,       /* the first bytes are not a TLS handshake record */
    TLS_PEEK_MALFORMED,     /* a TLS record, but not a well-formed ClientHello we accept */
};

struct tls_hello_info {
    size_t need;                /* NEED_MORE: buffer length at least needed */
    char host[L7_HOST_MAX + 1]; /* SNI_FOUND: normalised host_name; else "" */
    enum l7_host_kind host_kind;
    uint16_t legacy_version;    /* ClientHello.legacy_version (client_version) */
    bool sslv2;                 /* SSLv2-compatible (2-byte header) hello */
    bool ech;                   /* encrypted_client_hello (or draft ESNI) offered:
                                 * host is then only the outer, public name */
};

/* Peek at the first len bytes a client sent. *info is reset and filled on
 * every call (info must not be NULL). Rules: one host_name at most (RFC 6066;
 * two are MALFORMED), other name types skipped, a second server_name
 * extension MALFORMED, every length checked against its container. */
enum tls_peek_result tls_hello_peek(const uint8_t *buf, size_t len, struct tls_hello_info *info);

/* "need_more", "sni_found", "sni_missing", "not_tls", "malformed". */
const char *tls_peek_result_name(enum tls_peek_result r);
/* The l7_egress_decision reasonCode for a result that denies by itself
 * (SNI_MISSING and MALFORMED: "l7_sni_missing"; NOT_TLS: "l7_unknown_protocol");
 * NULL for NEED_MORE and SNI_FOUND, where the allowlist decides. */
const char *tls_peek_deny_reason(enum tls_peek_result r);

/* ---- HTTP/1.x request head ---------------------------------------------- */

#define HTTP_PEEK_DEFAULT_MAX_HEAD 8192u  /* request line + headers + blank line */
#define HTTP_PEEK_DEFAULT_MAX_LINE 4096u  /* one header field line, without its end */
#define HTTP_METHOD_MAX 32

struct http_peek_limits {
    size_t max_head;  /* 0: HTTP_PEEK_DEFAULT_MAX_HEAD */
    size_t max_line;  /* 0: HTTP_PEEK_DEFAULT_MAX_LINE */
};

enum http_peek_result {
    HTTP_PEEK_NEED_MORE,
    HTTP_PEEK_HOST_FOUND,    /* info.host holds the request's host */
    HTTP_PEEK_HOST_MISSING,  /* a valid head without Host (or an empty Host) and an origin-form target */
    HTTP_PEEK_NOT_HTTP,      /* not a plausible HTTP/1.0 or 1.1 request line */
    HTTP_PEEK_MALFORMED,     /* a request line, but a head we refuse */
    HTTP_PEEK_TOO_LARGE,     /* no end of head within max_head bytes */
};

enum http_target_form {
    HTTP_TARGET_ORIGIN,      /* /path */
    HTTP_TARGET_ABSOLUTE,    /* http://host[:port]/path or https://... */
    HTTP_TARGET_AUTHORITY,   /* CONNECT host:port */
    HTTP_TARGET_ASTERISK,    /* OPTIONS * */
};

struct http_host_info {
    size_t need;                       /* NEED_MORE: buffer length at least needed */
    size_t head_len;                   /* HOST_FOUND/HOST_MISSING: bytes up to the blank line's end */
    char method[HTTP_METHOD_MAX + 1];  /* set once the request line is complete */
    int minor_version;                 /* HTTP/1.<minor>: 0 or 1 */
    enum http_target_form form;
    char host[L7_HOST_MAX + 1];        /* HOST_FOUND: normalised, without port */
    enum l7_host_kind host_kind;
    int port;                          /* port given with host, or -1 */
    bool host_from_target;             /* no Host header: host came from the target */
    char target_host[L7_HOST_MAX + 1]; /* absolute/authority form: the target's host; else "" */
    int target_port;                   /* the target's port, or -1 */
};

/* Peek at the first len bytes of an HTTP/1.x request (limits may be NULL).
 * *info is reset and filled on every call (info must not be NULL).
 * Decisions: more than one Host field is MALFORMED (RFC 9112 3.2) even with
 * equal values; with an absolute- or authority-form target, a Host whose host
 * differs from the target's is MALFORMED (ports are not compared), and with
 * no Host the target's host is the answer; userinfo ('@') in the target, a
 * scheme other than http/https, obs-fold, whitespace before ':', control
 * bytes, a bare CR and a header line over max_line are MALFORMED. */
enum http_peek_result http_host_peek(const char *buf, size_t len,
                                     const struct http_peek_limits *limits,
                                     struct http_host_info *info);

/* "need_more", "host_found", "host_missing", "not_http", "malformed", "too_large". */
const char *http_peek_result_name(enum http_peek_result r);
/* reasonCode for results that deny by themselves (HOST_MISSING, MALFORMED,
 * TOO_LARGE: "l7_http_host_missing"; NOT_HTTP: "l7_unknown_protocol"); NULL
 * for NEED_MORE and HOST_FOUND. */
const char *http_peek_deny_reason(enum http_peek_result r);
