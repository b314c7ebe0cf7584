/* sign-vector: exposes the signing and canonicalization code to an
 * independent implementation (tests/integration/test_sign_interop.py).
 *
 *   sign-vector sign ALG KID KEY  < plain events (JSONL) > signed CloudEvents (JSONL)
 *   sign-vector pubkey SEED       base64url Ed25519 public key of the seed
 *   sign-vector canon             < JSON values (JSONL) > their RFC 8785 form
 *   sign-vector numbers           < 16-hex-digit IEEE-754 bit patterns > ES number text
 *
 * Errors go to stderr and the exit status is 1. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/base.h"
#include "base/buf.h"
#include "event/sign.h"
#include "json/canon.h"

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "sign-vector: %s: %s\n", what, why);
    return 1;
}

/* The outer CloudEvent the event module would build; only data is signed. */
static json_t *signed_cloudevent(json_t *data, unsigned long n)
{
    char id[64];
    snprintf(id, sizeof(id), "urn:cellos:event:interop-%lu", n);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
                     "specversion", "1.0",
                     "id", id,
                     "source", "urn:cellos:host:interop",
                     "type", SIGNED_EVENT_TYPE,
                     "time", "2024-01-01T00:00:00.000Z",
                     "datacontenttype", "application/json",
                     "data", data);
}

static int cmd_sign(const char *alg, const char *kid, const char *key)
{
    struct cell_err err = { 0 };
    _cleanup_signer_ struct signer *s = NULL;
    if (signer_new(alg, kid, key, &s, &err) < 0)
        return fail("signer", err.msg);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long n = 0;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, stdin)) > 0) {
        json_error_t jerr;
        json_t *event = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
        json_t *data = NULL;
        if (!event || signer_wrap(s, event, &data) < 0) {
            rc = fail("event", event ? "cannot sign" : jerr.text);
        } else {
            json_t *ce = signed_cloudevent(data, n++);
            json_dumpf(ce, stdout, JSON_COMPACT);
            fputc('\n', stdout);
            json_decref(ce);
        }
        json_decref(event);
    }
    free(line);
    return rc;
}

static int cmd_pubkey(const char *seed)
{
    struct cell_err err = { 0 };
    _cleanup_signer_ struct signer *s = NULL;
    char pk[SIGN_PUBKEY_B64_LEN];
    if (signer_new("ed25519", "pubkey", seed, &s, &err) < 0)
        return fail("signer", err.msg);
    signer_public_key(s, pk);
    puts(pk);
    return 0;
}

static int cmd_canon(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, stdin)) > 0) {
        json_error_t jerr;
        json_t *v = json_loadb(line, (size_t)len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        struct buf out = BUF_INIT;
        struct cell_err err = { 0 };
        if (!v)
            rc = fail("json", jerr.text);
        else if (json_canon(v, &out, &err) < 0)
            rc = fail("canon", err.msg);
        else
            printf("%s\n", out.data);
        buf_free(&out);
        json_decref(v);
    }
    free(line);
    return rc;
}

static int cmd_numbers(void)
{
    char hex[64];
    while (fgets(hex, sizeof(hex), stdin)) {
        uint64_t bits = strtoull(hex, NULL, 16);
        double d;
        memcpy(&d, &bits, sizeof(d));
        char text[CANON_NUMBER_MAX];
        if (canon_number(d, text) < 0)
            strcpy(text, "error");
        puts(text);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "sign") == 0 && argc == 5)
        return cmd_sign(argv[2], argv[3], argv[4]);
    if (strcmp(mode, "pubkey") == 0 && argc == 3)
        return cmd_pubkey(argv[2]);
    if (strcmp(mode, "canon") == 0)
        return cmd_canon();
    if (strcmp(mode, "numbers") == 0)
        return cmd_numbers();
    return fail("usage", "sign ALG KID KEY | pubkey SEED | canon | numbers");
}
