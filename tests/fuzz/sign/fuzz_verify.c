/* fuzz_verify: `cellos verify` reads JSONL event streams that anyone may have
 * edited. Feed arbitrary bytes to the streaming verifier, without keys and
 * with an Ed25519 and an HMAC key, and check that canonical JSON is a fixed
 * point (canonicalizing its own output gives the same bytes). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "event/verify.h"
#include "json/canon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char keys_json[] =
    "{\"k-ed\": \"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg\", \"k-h\": \"c2VjcmV0\"}";

static struct verify_keys *test_keys(void)
{
    static struct verify_keys *keys;
    struct cell_err err;
    if (!keys && verify_keys_parse(keys_json, strlen(keys_json), &keys, &err) < 0)
        abort();
    return keys;
}

static void check_canon_fixed_point(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!v)
        return;
    struct buf once = BUF_INIT, twice = BUF_INIT;
    if (json_canon(v, &once, NULL) == 0) {
        json_error_t e;
        json_t *w = json_loadb(once.data, once.len,
                               JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
        if (!w) {
            fprintf(stderr, "canonical output is not JSON: %s\n", e.text);
            abort();
        }
        if (json_canon(w, &twice, NULL) != 0 || once.len != twice.len ||
            memcmp(once.data, twice.data, once.len) != 0)
            abort();
        json_decref(w);
    }
    buf_free(&once);
    buf_free(&twice);
    json_decref(v);
}

static void verify_stream(const uint8_t *data, size_t size, const struct verify_keys *keys)
{
    struct verifier *v = verifier_new(keys, NULL, NULL);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        verifier_feed_line(v, p, len);
        p += len + 1;
    }
    verifier_finish(v);
    size_t n;
    (void)verifier_findings(v, &n);
    (void)verifier_runs(v, &n);
    verifier_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_canon_fixed_point(data, size);
    verify_stream(data, size, NULL);
    verify_stream(data, size, test_keys());
    return 0;
}
