/* wire.c: DNS header and question parsing, record walking, and the REFUSED /
 * SERVFAIL builders. Every read goes through a cursor that checks the bytes
 * exist first; every loop is bounded by the message length. */
#include "dns/wire.h"

#include <string.h>

#include "base/strtab.h"

/* Header flag bits (RFC 1035 4.1.1, RFC 4035 for AD/CD). */
#define FLAG_QR 0x8000u
#define FLAG_AA 0x0400u
#define FLAG_TC 0x0200u
#define FLAG_RD 0x0100u
#define FLAG_RA 0x0080u
#define FLAG_AD 0x0020u
#define FLAG_CD 0x0010u
#define OPCODE_SHIFT 11
#define EDNS_DO 0x8000u

/* Label length byte: the two top bits select the kind. 00 is a plain label
 * (so at most 63 bytes), 11 a compression pointer; 01 and 10 were extended
 * label types, none of which is in use (RFC 6891 deprecated them). */
#define LABEL_KIND_MASK 0xC0u
#define LABEL_POINTER 0xC0u

#define REASON_SHORT_HEADER "message shorter than a header"
#define REASON_TOO_LONG "message longer than 65535 bytes"
#define REASON_NAME_CUT "name runs past the message"
#define REASON_POINTER "compression pointer in question"
#define REASON_LABEL_LONG "label longer than 63 bytes"
#define REASON_NAME_LONG "name longer than 255 bytes"
#define REASON_QUESTION_CUT "question runs past the message"
#define REASON_RECORD_CUT "record runs past the message"
#define REASON_TWO_OPT "more than one OPT record"
#define REASON_OPT_OWNER "OPT record with a non-root owner"

struct cursor {
    const uint8_t *msg;
    size_t len;
    size_t pos;
    const char *err;            /* first failure, static text */
};

static bool cursor_fail(struct cursor *c, const char *why)
{
    if (!c->err)
        c->err = why;
    return false;
}

static bool cursor_has(const struct cursor *c, size_t n)
{
    return c->pos <= c->len && c->len - c->pos >= n;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)(v & 0xff);
}

static bool read16(struct cursor *c, uint16_t *v, const char *why)
{
    if (!cursor_has(c, 2))
        return cursor_fail(c, why);
    *v = get16(c->msg + c->pos);
    c->pos += 2;
    return true;
}

static void parse_header(const uint8_t *msg, struct dns_header *h)
{
    uint16_t f = get16(msg + 2);

    h->id = get16(msg);
    h->flags = f;
    h->qr = f & FLAG_QR;
    h->aa = f & FLAG_AA;
    h->tc = f & FLAG_TC;
    h->rd = f & FLAG_RD;
    h->ra = f & FLAG_RA;
    h->ad = f & FLAG_AD;
    h->cd = f & FLAG_CD;
    h->opcode = (uint8_t)((f >> OPCODE_SHIFT) & 0x0f);
    h->rcode = (uint8_t)(f & 0x0f);
    h->qdcount = get16(msg + 4);
    h->ancount = get16(msg + 6);
    h->nscount = get16(msg + 8);
    h->arcount = get16(msg + 10);
}

/* ---- names ---- */

/* The bytes a hostname may hold once A-Z are folded: anything else in a
 * label (a dot, a backslash, a NUL, a space, '*') is escaped so that it can
 * never be read as structure by the allowlist matcher. */
static bool hostname_byte(uint8_t b)
{
    return (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '_';
}

static uint8_t fold(uint8_t b)
{
    return (b >= 'A' && b <= 'Z') ? (uint8_t)(b - 'A' + 'a') : b;
}

/* Append one label to the text form. The buffer is sized for the worst case
 * (every byte escaped), which the 255-byte wire bound guarantees. */
static void append_label_text(struct dns_question *q, size_t *tlen, const uint8_t *label,
                              uint8_t n)
{
    char *t = q->name;

    if (*tlen > 0)
        t[(*tlen)++] = '.';
    for (uint8_t i = 0; i < n; i++) {
        uint8_t b = fold(label[i]);
        if (hostname_byte(b)) {
            t[(*tlen)++] = (char)b;
        } else {
            q->hostname_safe = false;
            t[(*tlen)++] = '\\';
            t[(*tlen)++] = (char)('0' + b / 100);
            t[(*tlen)++] = (char)('0' + b / 10 % 10);
            t[(*tlen)++] = (char)('0' + b % 10);
        }
    }
    t[*tlen] = '\0';
}

/* Read the question name at the cursor: plain labels only, copied to
 * q->wire as received and decoded to q->name. */
static bool read_question_name(struct cursor *c, struct dns_question *q)
{
    size_t wlen = 0, tlen = 0;

    q->hostname_safe = true;
    q->name[0] = '\0';
    for (;;) {
        if (!cursor_has(c, 1))
            return cursor_fail(c, REASON_NAME_CUT);
        uint8_t n = c->msg[c->pos];
        if ((n & LABEL_KIND_MASK) == LABEL_POINTER)
            return cursor_fail(c, REASON_POINTER);
        if (n & LABEL_KIND_MASK)
            return cursor_fail(c, REASON_LABEL_LONG);
        if (wlen + 1 + n > DNS_NAME_WIRE_MAX)
            return cursor_fail(c, REASON_NAME_LONG);
        if (!cursor_has(c, 1 + (size_t)n))
            return cursor_fail(c, REASON_NAME_CUT);
        memcpy(q->wire + wlen, c->msg + c->pos, 1 + (size_t)n);
        wlen += 1 + (size_t)n;
        c->pos += 1 + (size_t)n;
        if (n == 0)
            break;
        append_label_text(q, &tlen, q->wire + wlen - n, n);
    }
    q->wire_len = (uint16_t)wlen;
    if (tlen == 0)
        strcpy(q->name, ".");
    return true;
}

static bool read_question(struct cursor *c, struct dns_question *q)
{
    return read_question_name(c, q) &&
           read16(c, &q->qtype, REASON_QUESTION_CUT) &&
           read16(c, &q->qclass, REASON_QUESTION_CUT);
}

/* Step over a name in a record section without following pointers: a
 * pointer ends the name. The wire bound still applies to the labels seen. */
static bool skip_name(struct cursor *c, bool *is_root)
{
    size_t wlen = 0;

    *is_root = cursor_has(c, 1) && c->msg[c->pos] == 0;
    for (;;) {
        if (!cursor_has(c, 1))
            return cursor_fail(c, REASON_NAME_CUT);
        uint8_t n = c->msg[c->pos];
        if ((n & LABEL_KIND_MASK) == LABEL_POINTER) {
            if (!cursor_has(c, 2))
                return cursor_fail(c, REASON_NAME_CUT);
            c->pos += 2;
            return true;
        }
        if (n & LABEL_KIND_MASK)
            return cursor_fail(c, REASON_LABEL_LONG);
        if (wlen + 1 + n > DNS_NAME_WIRE_MAX)
            return cursor_fail(c, REASON_NAME_LONG);
        if (!cursor_has(c, 1 + (size_t)n))
            return cursor_fail(c, REASON_NAME_CUT);
        wlen += 1 + (size_t)n;
        c->pos += 1 + (size_t)n;
        if (n == 0)
            return true;
    }
}

/* Questions the proxy does not read (QDCOUNT != 1): names may be
 * compressed here, they are only stepped over. */
static bool skip_questions(struct cursor *c, uint16_t count)
{
    bool root;

    for (uint32_t i = 0; i < count; i++) {
        if (!skip_name(c, &root))
            return false;
        if (!cursor_has(c, 4))
            return cursor_fail(c, REASON_QUESTION_CUT);
        c->pos += 4;
    }
    return true;
}

/* ---- record sections ---- */

struct rr_fixed {
    uint16_t type, rclass;
    uint32_t ttl;
    uint16_t rdlength;
};

static bool read_rr(struct cursor *c, struct rr_fixed *rr, bool *root_owner)
{
    if (!skip_name(c, root_owner))
        return false;
    if (!cursor_has(c, 10))
        return cursor_fail(c, REASON_RECORD_CUT);
    const uint8_t *p = c->msg + c->pos;
    rr->type = get16(p);
    rr->rclass = get16(p + 2);
    rr->ttl = (uint32_t)get16(p + 4) << 16 | get16(p + 6);
    rr->rdlength = get16(p + 8);
    c->pos += 10;
    if (!cursor_has(c, rr->rdlength))
        return cursor_fail(c, REASON_RECORD_CUT);
    c->pos += rr->rdlength;
    return true;
}

/* RFC 6891 6.1.1: at most one OPT, in the additional section, owned by the
 * root. Its TTL field holds the extended rcode, the version and the flags. */
static bool take_opt(struct cursor *c, const struct rr_fixed *rr, bool root_owner,
                     struct dns_edns *edns)
{
    if (edns->present)
        return cursor_fail(c, REASON_TWO_OPT);
    if (!root_owner)
        return cursor_fail(c, REASON_OPT_OWNER);
    edns->present = true;
    edns->udp_size = rr->rclass;
    edns->ext_rcode = (uint8_t)(rr->ttl >> 24);
    edns->version = (uint8_t)(rr->ttl >> 16);
    edns->do_bit = rr->ttl & EDNS_DO;
    return true;
}

/* Walk the answer, authority and additional sections: records are framed
 * and stepped over, only an OPT in the additional section is read. */
static bool walk_records(struct cursor *c, const struct dns_header *h, struct dns_edns *edns)
{
    uint32_t before_additional = (uint32_t)h->ancount + h->nscount;
    uint32_t total = before_additional + h->arcount;
    struct rr_fixed rr;
    bool root_owner;

    memset(edns, 0, sizeof(*edns));
    for (uint32_t i = 0; i < total; i++) {
        if (!read_rr(c, &rr, &root_owner))
            return false;
        if (i >= before_additional && rr.type == DNS_TYPE_OPT &&
            !take_opt(c, &rr, root_owner, edns))
            return false;
    }
    return true;
}

/* ---- queries ---- */

static enum dns_status query_fail(struct dns_query *out, const char *why)
{
    out->status = DNS_MALFORMED;
    out->reason = why;
    out->has_question = false;
    memset(&out->edns, 0, sizeof(out->edns));
    return out->status;
}

/* The order of the checks is the precedence the header documents. */
static enum dns_status classify_query(const struct dns_query *out)
{
    if (out->hdr.opcode != DNS_OPCODE_QUERY)
        return DNS_BAD_OPCODE;
    if (out->hdr.qdcount != 1)
        return DNS_BAD_QDCOUNT;
    if (!out->q.hostname_safe)
        return DNS_NAME_UNSAFE;
    return DNS_OK;
}

enum dns_status dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *out)
{
    struct cursor c = { msg, len, DNS_HEADER_LEN, NULL };

    memset(out, 0, sizeof(*out));
    if (len > DNS_MSG_MAX)
        return query_fail(out, REASON_TOO_LONG);
    if (len < DNS_HEADER_LEN)
        return query_fail(out, REASON_SHORT_HEADER);
    parse_header(msg, &out->hdr);
    if (out->hdr.qr) {
        out->status = DNS_NOT_QUERY;
        return out->status;
    }
    if (out->hdr.qdcount == 1) {
        if (!read_question(&c, &out->q))
            return query_fail(out, c.err);
        out->has_question = true;
    } else if (!skip_questions(&c, out->hdr.qdcount)) {
        return query_fail(out, c.err);
    }
    if (!walk_records(&c, &out->hdr, &out->edns))
        return query_fail(out, c.err);
    out->records = (uint32_t)out->hdr.ancount + out->hdr.nscount + out->hdr.arcount;
    out->trailing_bytes = len - c.pos;
    out->status = classify_query(out);
    return out->status;
}

/* ---- answers ---- */

static enum dns_status answer_fail(struct dns_answer *out, const char *why)
{
    out->status = DNS_MALFORMED;
    out->reason = why;
    out->has_question = false;
    return out->status;
}

enum dns_status dns_parse_answer(const uint8_t *msg, size_t len, struct dns_answer *out)
{
    struct cursor c = { msg, len, DNS_HEADER_LEN, NULL };

    memset(out, 0, sizeof(*out));
    if (len > DNS_MSG_MAX)
        return answer_fail(out, REASON_TOO_LONG);
    if (len < DNS_HEADER_LEN)
        return answer_fail(out, REASON_SHORT_HEADER);
    parse_header(msg, &out->hdr);
    out->rcode = out->hdr.rcode;
    if (!out->hdr.qr)
        return out->status = DNS_NOT_RESPONSE;
    if (out->hdr.opcode != DNS_OPCODE_QUERY)
        return out->status = DNS_BAD_OPCODE;
    if (out->hdr.qdcount != 1)
        return out->status = DNS_BAD_QDCOUNT;
    if (!read_question(&c, &out->q))
        return answer_fail(out, c.err);
    out->has_question = true;
    /* A truncated or sloppy answer is still relayed as it is; the records
     * only matter for the extended rcode. */
    out->records_ok = walk_records(&c, &out->hdr, &out->edns);
    if (!out->records_ok)
        memset(&out->edns, 0, sizeof(out->edns));
    else if (out->edns.present)
        out->rcode = (uint16_t)(out->edns.ext_rcode << 4 | out->hdr.rcode);
    return out->status = DNS_OK;
}

/* Length bytes (0..63) never fall in 'A'..'Z', so folding the whole wire
 * form compares labels case-insensitively and lengths exactly. */
static bool wire_names_equal(const struct dns_question *a, const struct dns_question *b)
{
    if (a->wire_len != b->wire_len)
        return false;
    for (size_t i = 0; i < a->wire_len; i++)
        if (fold(a->wire[i]) != fold(b->wire[i]))
            return false;
    return true;
}

bool dns_answer_matches(const struct dns_query *sent, const struct dns_answer *a)
{
    return sent->has_question && a->status == DNS_OK && a->has_question &&
           sent->hdr.id == a->hdr.id && sent->q.qtype == a->q.qtype &&
           sent->q.qclass == a->q.qclass && wire_names_equal(&sent->q, &a->q);
}

/* ---- replies ---- */

static bool reply_possible(const struct dns_query *q)
{
    return q->status == DNS_OK || q->status == DNS_NAME_UNSAFE ||
           q->status == DNS_BAD_OPCODE || q->status == DNS_BAD_QDCOUNT;
}

static uint16_t reply_flags(const struct dns_header *h, uint8_t rcode)
{
    uint16_t f = FLAG_QR | FLAG_RA | (uint16_t)(h->opcode << OPCODE_SHIFT) | rcode;

    if (h->rd)
        f |= FLAG_RD;
    if (h->cd)          /* RFC 6840 5.9: CD is copied into the response */
        f |= FLAG_CD;
    return f;
}

/* Our own OPT: root owner, our UDP size, extended rcode 0 (REFUSED and
 * SERVFAIL fit the header), version 0, DO copied (RFC 3225 3), no options. */
static size_t put_opt(uint8_t *p, const struct dns_edns *query_edns)
{
    p[0] = 0;
    put16(p + 1, DNS_TYPE_OPT);
    put16(p + 3, DNS_EDNS_UDP_SIZE);
    p[5] = 0;
    p[6] = 0;
    put16(p + 7, query_edns->do_bit ? EDNS_DO : 0);
    put16(p + 9, 0);
    return DNS_OPT_RR_LEN;
}

int dns_build_reply(const struct dns_query *q, uint8_t rcode, uint8_t *out, size_t cap)
{
    size_t question_len = q->has_question ? (size_t)q->q.wire_len + 4 : 0;
    size_t need = DNS_HEADER_LEN + question_len + (q->edns.present ? DNS_OPT_RR_LEN : 0);

    if (!reply_possible(q) || rcode > 15)
        return -EINVAL;
    if (cap < need)
        return -ENOSPC;
    put16(out, q->hdr.id);
    put16(out + 2, reply_flags(&q->hdr, rcode));
    put16(out + 4, q->has_question ? 1 : 0);
    put16(out + 6, 0);
    put16(out + 8, 0);
    put16(out + 10, q->edns.present ? 1 : 0);
    size_t pos = DNS_HEADER_LEN;
    if (q->has_question) {
        memcpy(out + pos, q->q.wire, q->q.wire_len);
        pos += q->q.wire_len;
        put16(out + pos, q->q.qtype);
        put16(out + pos + 2, q->q.qclass);
        pos += 4;
    }
    if (q->edns.present)
        pos += put_opt(out + pos, &q->edns);
    return (int)pos;
}

/* ---- small helpers ---- */

int dns_msg_id(const uint8_t *msg, size_t len, uint16_t *id)
{
    if (len < DNS_HEADER_LEN)
        return -EBADMSG;
    *id = get16(msg);
    return 0;
}

int dns_msg_set_id(uint8_t *msg, size_t len, uint16_t id)
{
    if (len < DNS_HEADER_LEN)
        return -EBADMSG;
    put16(msg, id);
    return 0;
}

static const struct strtab_entry status_names[] = {
    { DNS_OK, "ok" },
    { DNS_MALFORMED, "malformed" },
    { DNS_NOT_QUERY, "not_query" },
    { DNS_NOT_RESPONSE, "not_response" },
    { DNS_BAD_OPCODE, "bad_opcode" },
    { DNS_BAD_QDCOUNT, "bad_qdcount" },
    { DNS_NAME_UNSAFE, "name_unsafe" },
};

const char *dns_status_name(enum dns_status s)
{
    const char *n = strtab_name(status_names, ARRAY_SIZE(status_names), (int)s);
    return n ? n : "unknown";
}
