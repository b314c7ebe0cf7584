/* fuzz_dns_tcp.c: arbitrary bytes as a DNS-over-TCP stream, fed to the
 * reassembler in pseudo-random read sizes. The first three input bytes pick
 * the message size limit and the split seed; the rest is the stream. What
 * comes out must equal a plain one-pass reading of the same stream: the same
 * messages in order, the same error at the same place, the same bytes left
 * pending at the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/wire.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define MAX_MSGS 40000

struct expected {
    size_t off[MAX_MSGS], len[MAX_MSGS];   /* of each message in the stream */
    size_t n;
    int error;
    size_t pending;
};

static void read_reference(const uint8_t *s, size_t len, size_t max_msg, struct expected *e)
{
    size_t pos = 0;

    e->n = 0;
    e->error = 0;
    e->pending = 0;
    while (len - pos >= 2) {
        size_t m = (size_t)s[pos] << 8 | s[pos + 1];
        if (m > max_msg) {
            e->error = -EMSGSIZE;
            return;
        }
        if (m < DNS_HEADER_LEN) {
            e->error = -EBADMSG;
            return;
        }
        if (len - pos - 2 < m)
            break;
        CHECK(e->n < MAX_MSGS);
        e->off[e->n] = pos + 2;
        e->len[e->n] = m;
        e->n++;
        pos += 2 + m;
    }
    e->pending = len - pos;
}

static uint32_t next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Mostly small reads, sometimes a large one. */
static size_t read_size(uint32_t *rng)
{
    uint32_t r = next_rand(rng);
    return (r & 7) == 0 ? 1 + (r >> 3) % 70000 : 1 + (r >> 3) % 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct dns_tcp_reasm r;
    static struct expected e;

    if (size < 3)
        return 0;
    size_t max_msg = data[0] < 128 ? DNS_MSG_MAX : DNS_HEADER_LEN + (size_t)data[0] * 4;
    uint32_t rng = 0x9e3779b9u ^ (uint32_t)data[1] << 8 ^ data[2];
    const uint8_t *s = data + 3;
    size_t len = size - 3;

    read_reference(s, len, max_msg, &e);
    dns_tcp_reasm_init(&r, max_msg);
    size_t off = 0, got = 0;
    int error = 0;
    while (off < len) {
        size_t chunk = read_size(&rng);
        size_t end = chunk < len - off ? off + chunk : len;
        while (off < end) {
            const uint8_t *m;
            size_t ml;
            ssize_t used = dns_tcp_reasm_feed(&r, s + off, end - off, &m, &ml);
            if (used < 0) {
                error = (int)used;
                break;
            }
            CHECK(used > 0 && (size_t)used <= end - off);
            off += (size_t)used;
            if (m) {
                CHECK(got < e.n && ml == e.len[got] && memcmp(m, s + e.off[got], ml) == 0);
                CHECK(off == e.off[got] + ml);
                got++;
            }
        }
        if (error)
            break;
    }
    CHECK(got == e.n);
    CHECK(error == e.error);
    if (!error)
        CHECK(dns_tcp_reasm_pending(&r) == e.pending);
    return 0;
}
