/* tcpframe.c: DNS over TCP framing (RFC 1035 4.2.2, RFC 7766 6.2.1): each
 * message is preceded by its length as two bytes in network order, and a
 * connection may carry any number of messages, cut anywhere by reads. */
#include "dns/wire.h"

#include <string.h>

void dns_tcp_reasm_init(struct dns_tcp_reasm *r, size_t max_msg)
{
    if (max_msg < DNS_HEADER_LEN)
        max_msg = DNS_HEADER_LEN;
    if (max_msg > DNS_MSG_MAX)
        max_msg = DNS_MSG_MAX;
    r->max_msg = max_msg;
    r->have = 0;
    r->delivered = false;
    r->error = 0;
}

static size_t frame_msg_len(const struct dns_tcp_reasm *r)
{
    return (size_t)r->buf[0] << 8 | r->buf[1];
}

static size_t take_bytes(struct dns_tcp_reasm *r, size_t want, const uint8_t *data, size_t len)
{
    size_t n = want < len ? want : len;

    memcpy(r->buf + r->have, data, n);
    r->have += n;
    return n;
}

/* Checked once, when the prefix is complete: a bad length poisons the
 * stream, since nothing after it can be framed any more. */
static int check_prefix(struct dns_tcp_reasm *r)
{
    size_t mlen = frame_msg_len(r);

    if (mlen > r->max_msg)
        return r->error = -EMSGSIZE;
    if (mlen < DNS_HEADER_LEN)
        return r->error = -EBADMSG;
    return 0;
}

ssize_t dns_tcp_reasm_feed(struct dns_tcp_reasm *r, const uint8_t *data, size_t len,
                           const uint8_t **msg, size_t *msg_len)
{
    size_t used = 0;

    *msg = NULL;
    *msg_len = 0;
    if (r->error)
        return r->error;
    if (r->delivered) {         /* the caller is done with the last message */
        r->have = 0;
        r->delivered = false;
    }
    if (r->have < 2) {
        used += take_bytes(r, 2 - r->have, data, len);
        if (r->have < 2)
            return (ssize_t)used;
        int e = check_prefix(r);
        if (e < 0)
            return e;
    }
    size_t frame_len = 2 + frame_msg_len(r);
    used += take_bytes(r, frame_len - r->have, data + used, len - used);
    if (r->have == frame_len) {
        *msg = r->buf + 2;
        *msg_len = frame_len - 2;
        r->delivered = true;
    }
    return (ssize_t)used;
}

size_t dns_tcp_reasm_pending(const struct dns_tcp_reasm *r)
{
    return r->delivered ? 0 : r->have;
}

int dns_tcp_prefix(size_t len, uint8_t prefix[2])
{
    if (len > DNS_MSG_MAX)
        return -EMSGSIZE;
    prefix[0] = (uint8_t)(len >> 8);
    prefix[1] = (uint8_t)(len & 0xff);
    return 0;
}

/* The message moves before the prefix is written, so msg may sit at out
 * itself (framing in place in a buffer with two spare bytes). */
int dns_tcp_frame(const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
    if (len > DNS_MSG_MAX)
        return -EMSGSIZE;
    if (cap < len + 2)
        return -ENOSPC;
    memmove(out + 2, msg, len);
    return dns_tcp_prefix(len, out) < 0 ? -EMSGSIZE : (int)(len + 2);
}
