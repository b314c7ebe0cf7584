/* fuzz_http_host.c: http_host_peek on arbitrary bytes, whole and as the
 * growing buffer a proxy sees, with the default bounds and with small ones
 * (so that TOO_LARGE and the line bound are reached). Checks, besides memory
 * safety (each prefix is peeked in an exact-size heap copy):
 *   - once a prefix gives an answer other than NEED_MORE, the whole input
 *     gives the same answer and the same fields (monotone);
 *   - NEED_MORE comes with need = len + 1 and only below max_head;
 *   - a found host is non-empty and normalised, agrees with the target's
 *     host when there is one, and head_len points just past a '\n'. */
#include <arpa/inet.h>
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

static enum http_peek_result peek_prefix(const uint8_t *data, size_t n,
                                         const struct http_peek_limits *lim,
                                         struct http_host_info *info)
{
    char *copy = calloc(n ? n : 1, 1);
    CHECK(copy);
    if (n)
        memcpy(copy, data, n);
    enum http_peek_result r = http_host_peek(copy, n, lim, info);
    free(copy);
    return r;
}

static void check_host(const struct http_host_info *info)
{
    size_t len = strlen(info->host);
    CHECK(len > 0 && len <= L7_HOST_MAX);
    CHECK(info->port >= -1 && info->port <= 65535);
    if (info->host_kind == L7_HOST_IPV6) {
        struct in6_addr a;
        CHECK(inet_pton(AF_INET6, info->host, &a) == 1);
    } else {
        char again[L7_HOST_MAX + 1];
        enum l7_host_kind kind;
        CHECK(l7_host_normalize(info->host, len, again, &kind) == 0);
        CHECK(strcmp(again, info->host) == 0 && kind == info->host_kind);
    }
    if (info->target_host[0])
        CHECK(strcmp(info->target_host, info->host) == 0);
    else
        CHECK(!info->host_from_target);
}

static void check_shape(enum http_peek_result r, const struct http_host_info *info,
                        const uint8_t *data, size_t n, size_t max_head)
{
    CHECK(http_peek_result_name(r) != NULL);
    CHECK(info->need == (r == HTTP_PEEK_NEED_MORE ? n + 1 : 0));
    if (r == HTTP_PEEK_NEED_MORE)
        CHECK(n < max_head);
    if (r == HTTP_PEEK_TOO_LARGE)
        CHECK(n >= max_head);
    if (r == HTTP_PEEK_HOST_FOUND || r == HTTP_PEEK_HOST_MISSING) {
        CHECK(info->head_len > 0 && info->head_len <= n && info->head_len <= max_head);
        CHECK(data[info->head_len - 1] == '\n');
        CHECK(info->method[0] != '\0');
        CHECK(info->minor_version == 0 || info->minor_version == 1);
    } else {
        CHECK(info->head_len == 0);
    }
    if (r == HTTP_PEEK_HOST_FOUND)
        check_host(info);
    else
        CHECK(info->host[0] == '\0' && info->port == -1);
}

static void check_same(enum http_peek_result a, const struct http_host_info *ia,
                       enum http_peek_result b, const struct http_host_info *ib)
{
    CHECK(a == b);
    CHECK(strcmp(ia->host, ib->host) == 0);
    CHECK(ia->port == ib->port);
    CHECK(ia->head_len == ib->head_len);
    CHECK(ia->host_from_target == ib->host_from_target);
    if (a == HTTP_PEEK_HOST_FOUND || a == HTTP_PEEK_HOST_MISSING) {
        CHECK(strcmp(ia->method, ib->method) == 0);
        CHECK(strcmp(ia->target_host, ib->target_host) == 0);
        CHECK(ia->form == ib->form && ia->target_port == ib->target_port);
    }
}

static size_t pick(const uint8_t *data, size_t size, unsigned k)
{
    uint32_t h = 2166136261u ^ k;
    for (size_t i = 0; i < size && i < 64; i++)
        h = (h ^ data[i]) * 16777619u;
    h = (h ^ k) * 16777619u;
    return size ? h % size : 0;
}

static void check_prefix(const uint8_t *data, size_t at, const struct http_peek_limits *lim,
                         size_t max_head, enum http_peek_result want, const struct http_host_info *full)
{
    struct http_host_info info;
    enum http_peek_result r = peek_prefix(data, at, lim, &info);
    check_shape(r, &info, data, at, max_head);
    if (r != HTTP_PEEK_NEED_MORE)
        check_same(r, &info, want, full);
}

static void run(const uint8_t *data, size_t size, const struct http_peek_limits *lim, size_t max_head)
{
    struct http_host_info full;
    enum http_peek_result want = peek_prefix(data, size, lim, &full);
    check_shape(want, &full, data, size, max_head);

    /* Every short prefix, the prefixes around each line end in the first
     * kilobyte, the prefix just before the head's end, and a few anywhere:
     * every byte would be quadratic. */
    for (size_t at = 0; at < size && at < 24; at++)
        check_prefix(data, at, lim, max_head, want, &full);
    for (size_t at = 0; at < size && at < 1024; at++)
        if (data[at] == '\n') {
            check_prefix(data, at, lim, max_head, want, &full);
            check_prefix(data, at + 1, lim, max_head, want, &full);
        }
    if (full.head_len > 0)
        check_prefix(data, full.head_len - 1, lim, max_head, want, &full);
    if (size >= max_head)
        check_prefix(data, max_head, lim, max_head, want, &full);
    for (unsigned k = 0; k < 6; k++)
        check_prefix(data, pick(data, size, k), lim, max_head, want, &full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)l7_sniff(data, size);
    run(data, size, NULL, HTTP_PEEK_DEFAULT_MAX_HEAD);
    struct http_peek_limits small = { .max_head = 160, .max_line = 40 };
    run(data, size, &small, small.max_head);
    return 0;
}
