/* wire.h: the DNS wire format as the in-cell DNS proxy needs it.
 *
 * Pure, bounded functions over untrusted bytes: no sockets, no allocation,
 * no logging. The proxy reads a query's header and first question, decides,
 * and either forwards the query unchanged or answers REFUSED / SERVFAIL built
 * here from the query alone; upstream answers are only checked (id,
 * question, rcode, TC) and relayed unchanged. DNS over TCP framing is an
 * incremental reassembler over the 2-byte length prefix.
 *
 * Decisions (docs/dns-wire.md says why):
 *  - A question name is decoded to lower-case text without the trailing dot
 *    ("." for the root). Label bytes outside [a-z0-9-_] (after folding A-Z)
 *    are written as RFC 1035 \DDD escapes and the question is marked not
 *    hostname-safe; a query with such a name is classified DNS_NAME_UNSAFE
 *    and must never reach the allowlist matcher (a label "a.b" decodes to
 *    "a\046b", never to a dotted name).
 *  - Compression pointers in a question are rejected: the first question
 *    starts right after the header, so a pointer there can only aim into the
 *    header, into the name itself (a loop) or forward. Names in the record
 *    sections are only skipped, never followed.
 *  - Replies built here carry the question exactly as received (case
 *    preserved) and, when the query had an EDNS OPT record, a minimal OPT of
 *    our own (version 0, DO copied, no options). */
#pragma once
#include "base/base.h"

#define DNS_HEADER_LEN 12
#define DNS_MSG_MAX 65535           /* UDP payload and TCP length prefix limit */
#define DNS_LABEL_MAX 63
#define DNS_NAME_WIRE_MAX 255       /* wire bytes of a name, the final 0 included */
/* Decoded text: at most 1003 characters when every byte is escaped, 253 for a
 * hostname-safe name. */
#define DNS_NAME_TEXT_MAX 1024
#define DNS_OPT_RR_LEN 11           /* root owner, type, class, ttl, rdlength */
#define DNS_REPLY_MAX (DNS_HEADER_LEN + DNS_NAME_WIRE_MAX + 4 + DNS_OPT_RR_LEN)
#define DNS_EDNS_UDP_SIZE 1232      /* what our own OPT advertises */

#define DNS_OPCODE_QUERY 0
#define DNS_TYPE_OPT 41
#define DNS_CLASS_IN 1

enum dns_rcode {
    DNS_RCODE_NOERROR = 0,
    DNS_RCODE_FORMERR = 1,
    DNS_RCODE_SERVFAIL = 2,
    DNS_RCODE_NXDOMAIN = 3,
    DNS_RCODE_NOTIMP = 4,
    DNS_RCODE_REFUSED = 5,
};

/* What a parse found. The parse functions always fill their result; the
 * fields that are valid for each status are listed with the structs. */
enum dns_status {
    DNS_OK = 0,
    DNS_MALFORMED,      /* reason says why; the proxy sends no answer */
    DNS_NOT_QUERY,      /* QR=1 where a query was expected */
    DNS_NOT_RESPONSE,   /* QR=0 where an answer was expected */
    DNS_BAD_OPCODE,     /* opcode is not QUERY (0) */
    DNS_BAD_QDCOUNT,    /* QDCOUNT is not 1 */
    DNS_NAME_UNSAFE,    /* question name has bytes outside [a-z0-9-_] */
};

struct dns_header {
    uint16_t id;
    uint16_t flags;             /* the raw second word */
    bool qr, aa, tc, rd, ra, ad, cd;
    uint8_t opcode;             /* 4 bits */
    uint8_t rcode;              /* the header's 4 bits */
    uint16_t qdcount, ancount, nscount, arcount;
};

struct dns_question {
    uint8_t wire[DNS_NAME_WIRE_MAX];    /* as received, case preserved */
    uint16_t wire_len;                  /* final 0 byte included */
    char name[DNS_NAME_TEXT_MAX];       /* lower case, no trailing dot, "." for root */
    bool hostname_safe;                 /* every label byte in [a-z0-9-_] */
    uint16_t qtype, qclass;
};

struct dns_edns {
    bool present;
    uint16_t udp_size;          /* the OPT record's class */
    uint8_t ext_rcode;          /* upper 8 bits of the 12-bit rcode */
    uint8_t version;
    bool do_bit;
};

/* A query as the proxy sees it.
 *  hdr:          valid unless status is DNS_MALFORMED for a short header.
 *  q:            valid when has_question (QDCOUNT is 1 and it parsed).
 *  edns, counts: valid for DNS_OK, DNS_NAME_UNSAFE, DNS_BAD_OPCODE and
 *                DNS_BAD_QDCOUNT (the whole message was walked). */
struct dns_query {
    enum dns_status status;
    const char *reason;         /* static text for DNS_MALFORMED, else NULL */
    struct dns_header hdr;
    bool has_question;
    struct dns_question q;
    struct dns_edns edns;
    uint32_t records;           /* AN+NS+AR records after the question (walked, not read) */
    size_t trailing_bytes;      /* bytes after the last record (ignored) */
};

/* An upstream answer, to be relayed unchanged.
 *  hdr:      valid unless the header is short.
 *  q:        valid when has_question.
 *  rcode:    the full rcode: the header's 4 bits, extended by the OPT record
 *            when the record sections could be walked (records_ok). */
struct dns_answer {
    enum dns_status status;
    const char *reason;
    struct dns_header hdr;
    bool has_question;
    struct dns_question q;
    bool records_ok;
    struct dns_edns edns;
    uint16_t rcode;
};

/* Parse a query of len bytes. Always fills *out and returns out->status:
 * DNS_OK, DNS_MALFORMED (with reason), DNS_NOT_QUERY, DNS_BAD_OPCODE,
 * DNS_BAD_QDCOUNT or DNS_NAME_UNSAFE, in that order of precedence (a
 * response is not walked further; a malformed message is malformed whatever
 * else is wrong with it). Only DNS_OK may be checked against the allowlist. */
enum dns_status dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *out);

/* Parse an upstream answer. Always fills *out and returns out->status:
 * DNS_OK, DNS_MALFORMED, DNS_NOT_RESPONSE, DNS_BAD_OPCODE or DNS_BAD_QDCOUNT.
 * The header and question are checked strictly; the record sections are
 * walked only to find the OPT record for the extended rcode, and an answer
 * whose records do not walk (records_ok false) is still DNS_OK. */
enum dns_status dns_parse_answer(const uint8_t *msg, size_t len, struct dns_answer *out);

/* True when the answer is DNS_OK and carries the id, qtype, qclass and name
 * (compared case-insensitively) of the query the proxy sent. */
bool dns_answer_matches(const struct dns_query *sent, const struct dns_answer *a);

/* Build a reply with rcode (0..15) and no records from a parsed query whose
 * header is usable (status DNS_OK, DNS_NAME_UNSAFE, DNS_BAD_OPCODE or
 * DNS_BAD_QDCOUNT): id, opcode, RD and CD echoed, QR=1 and RA=1 (the proxy
 * offers recursion through its upstream), AA=TC=AD=0, the question echoed
 * when the query had one, our own OPT when it had one. Returns the length
 * written (at most DNS_REPLY_MAX), -EINVAL for an unusable query or rcode,
 * -ENOSPC when cap is too small. */
int dns_build_reply(const struct dns_query *q, uint8_t rcode, uint8_t *out, size_t cap);

static inline int dns_build_refused(const struct dns_query *q, uint8_t *out, size_t cap)
{
    return dns_build_reply(q, DNS_RCODE_REFUSED, out, cap);
}

static inline int dns_build_servfail(const struct dns_query *q, uint8_t *out, size_t cap)
{
    return dns_build_reply(q, DNS_RCODE_SERVFAIL, out, cap);
}

/* Read / rewrite the id of a message in place (for a proxy that renumbers
 * queries upstream). -EBADMSG when len is shorter than a header. */
int dns_msg_id(const uint8_t *msg, size_t len, uint16_t *id);
int dns_msg_set_id(uint8_t *msg, size_t len, uint16_t id);

/* The status as a short stable word ("ok", "malformed", ...). */
const char *dns_status_name(enum dns_status s);

/* ---- DNS over TCP (RFC 1035 4.2.2, RFC 7766): 2-byte length prefix ---- */

/* Incremental reassembly of one direction of a TCP stream carrying any
 * number of messages, split anywhere across reads. Holds at most one
 * message; memory is fixed (about 64 KiB). */
struct dns_tcp_reasm {
    size_t max_msg;             /* longer length prefixes are an error */
    size_t have;                /* bytes of the current frame held, prefix included */
    bool delivered;             /* buf holds a message handed out by the last feed */
    int error;                  /* sticky: 0 or the negative errno returned once */
    uint8_t buf[2 + DNS_MSG_MAX];
};

/* max_msg: the longest message accepted, DNS_HEADER_LEN..DNS_MSG_MAX
 * (clamped into that range). */
void dns_tcp_reasm_init(struct dns_tcp_reasm *r, size_t max_msg);

/* Consume bytes from data, stopping right after the end of one message.
 * Returns how many bytes were consumed (call again with the rest); when a
 * message completed, *msg and *msg_len point at it (valid until the next
 * call), else *msg is NULL. Errors, after which the stream is unusable:
 * -EMSGSIZE for a length prefix above max_msg, -EBADMSG for a prefix below
 * DNS_HEADER_LEN (no DNS message is that short). */
ssize_t dns_tcp_reasm_feed(struct dns_tcp_reasm *r, const uint8_t *data, size_t len,
                           const uint8_t **msg, size_t *msg_len);

/* Bytes of an incomplete frame held (non-zero at EOF means a cut message). */
size_t dns_tcp_reasm_pending(const struct dns_tcp_reasm *r);

/* Write the 2-byte length prefix for a message of len bytes (for writev).
 * -EMSGSIZE when len is above DNS_MSG_MAX. */
int dns_tcp_prefix(size_t len, uint8_t prefix[2]);

/* Frame msg into out (prefix then message; msg may equal out). Returns
 * len + 2, -EMSGSIZE when len is above DNS_MSG_MAX, -ENOSPC when cap is too
 * small. */
int dns_tcp_frame(const uint8_t *msg, size_t len, uint8_t *out, size_t cap);
