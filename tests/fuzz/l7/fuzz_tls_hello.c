/* fuzz_tls_hello.c: tls_hello_peek on arbitrary bytes, whole and as the
 * growing buffer a proxy sees. Checks, besides memory safety (every prefix is
 * peeked in an exact-size heap copy, so ASan catches a read past len):
 *   - once a prefix gives an answer other than NEED_MORE, the whole input
 *     gives the same answer and the same fields (monotone);
 *   - NEED_MORE's `need` is past the prefix, within TLS_HELLO_PEEK_MAX_INPUT,
 *     and no shorter buffer than `need` answers otherwise (a lower bound);
 *   - a found host is non-empty and already normalised. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l7/peek.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum tls_peek_result peek_prefix(const uint8_t *data, size_t n, struct tls_hello_info *info)
{
    uint8_t *copy = calloc(n ? n : 1, 1);
    CHECK(copy);
    if (n)
        memcpy(copy, data, n);
    enum tls_peek_result r = tls_hello_peek(copy, n, info);
    free(copy);
    return r;
}

static void check_shape(enum tls_peek_result r, const struct tls_hello_info *info, size_t n)
{
    CHECK(tls_peek_result_name(r) != NULL);
    if (r == TLS_PEEK_NEED_MORE) {
        CHECK(info->need > n);
        CHECK(info->need <= TLS_HELLO_PEEK_MAX_INPUT);
    } else {
        CHECK(info->need == 0);
    }
    if (r == TLS_PEEK_SNI_FOUND) {
        char again[L7_HOST_MAX + 1];
        size_t len = strlen(info->host);
        CHECK(len > 0 && len <= L7_HOST_MAX);
        CHECK(l7_host_normalize(info->host, len, again, NULL) == 0);
        CHECK(strcmp(again, info->host) == 0);
    } else {
        CHECK(info->host[0] == '\0');
    }
}

static void check_same(enum tls_peek_result a, const struct tls_hello_info *ia,
                       enum tls_peek_result b, const struct tls_hello_info *ib)
{
    CHECK(a == b);
    CHECK(strcmp(ia->host, ib->host) == 0);
    CHECK(ia->host_kind == ib->host_kind);
    CHECK(ia->sslv2 == ib->sslv2);
    CHECK(ia->ech == ib->ech);
    CHECK(ia->legacy_version == ib->legacy_version);
}

/* A prefix length chosen from the data itself, so runs are reproducible. */
static size_t pick(const uint8_t *data, size_t size, unsigned k)
{
    uint32_t h = 2166136261u ^ k;
    for (size_t i = 0; i < size && i < 64; i++)
        h = (h ^ data[i]) * 16777619u;
    h = (h ^ k) * 16777619u;
    return size ? h % size : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tls_hello_info full, info;
    enum tls_peek_result want = peek_prefix(data, size, &full);
    check_shape(want, &full, size);
    (void)l7_sniff(data, size);

    /* The calls a proxy makes: wait for `need` bytes, peek again. */
    size_t l = 0;
    for (;;) {
        enum tls_peek_result r = peek_prefix(data, l, &info);
        check_shape(r, &info, l);
        if (r != TLS_PEEK_NEED_MORE) {
            check_same(r, &info, want, &full);
            break;
        }
        if (l == size)
            break;
        if (info.need > size) {
            CHECK(want == TLS_PEEK_NEED_MORE);
            break;
        }
        struct tls_hello_info below;
        if (info.need - 1 > l)
            CHECK(peek_prefix(data, info.need - 1, &below) == TLS_PEEK_NEED_MORE);
        l = info.need;
    }

    /* And a few prefixes anywhere. */
    for (unsigned k = 0; k < 6; k++) {
        size_t at = pick(data, size, k);
        enum tls_peek_result r = peek_prefix(data, at, &info);
        check_shape(r, &info, at);
        if (r != TLS_PEEK_NEED_MORE)
            check_same(r, &info, want, &full);
        else if (info.need <= size)
            CHECK(peek_prefix(data, info.need - 1, &info) == TLS_PEEK_NEED_MORE);
    }
    return 0;
}
