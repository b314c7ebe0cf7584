/* test_sign: signed envelopes (src/event/sign.c) and their verifier
 * (src/event/verify.c): key handling, known answers, round trips, and every
 * kind of tampering the contract names. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "event/sign.h"
#include "event/verify.h"
#include "tap.h"

#define SEED_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"      /* bytes 0..31 */
#define SEED_B "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1-f4CBgoM"      /* bytes 100..131 */
#define HMAC_KEY "Y2VsbG9zLWhtYWMtdGVzdC1rZXk"                   /* 20 bytes */
#define HMAC_KEY32 "yMnKy8zNzs_Q0dLT1NXW19jZ2tvc3d7f4OHi4-Tl5uc"  /* 32 bytes */
#define DESTROYED VERIFY_SEALING_TYPE

/* ---- helpers ------------------------------------------------------------ */

static struct signer *make_signer(const char *alg, const char *kid, const char *key)
{
    struct signer *s = NULL;
    struct cell_err err = { 0 };
    if (signer_new(alg, kid, key, &s, &err) < 0)
        printf("# signer_new: %s\n", err.msg);
    return s;
}

static char *pubkey_of(const char *seed)
{
    struct signer *s = make_signer("ed25519", "x", seed);
    char pk[SIGN_PUBKEY_B64_LEN] = "";
    if (s)
        signer_public_key(s, pk);
    signer_free(s);
    return xstrdup(pk);
}

/* A plain event of a run; the last one of a sealed run is destroyed. */
static json_t *plain_event(const char *run_id, int i, bool last, bool seal)
{
    const char *type = last && seal ? DESTROYED
                       : i == 0     ? "dev.cellos.events.cell.lifecycle.v1.started"
                                    : "dev.cellos.events.cell.observability.v1.dns_query";
    char id[96], note[64];
    snprintf(id, sizeof(id), "urn:cellos:event:%s-%d", run_id, i);
    snprintf(note, sizeof(note), "payload-%d \xc3\xa9\xf0\x9f\x98\x80", i);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:i, s:f}}",
                     "specversion", "1.0", "id", id, "source", "urn:cellos:host:test",
                     "type", type, "time", "2024-01-01T00:00:00.000Z",
                     "datacontenttype", "application/json", "subject", "urn:cellos:cell:demo",
                     "data", "cellId", "demo", "specId", "demo", "runId", run_id,
                     "note", note, "n", i, "ratio", 0.25 * i);
}

/* The outer CloudEvent line around an envelope's data. */
static char *signed_line(json_t *data)
{
    json_t *ce = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "specversion", "1.0",
                           "id", "urn:cellos:event:outer", "source", "urn:cellos:host:test",
                           "type", SIGNED_EVENT_TYPE, "time", "2024-01-01T00:00:00.000Z",
                           "data", data);
    char *line = json_dumps(ce, JSON_COMPACT);
    json_decref(ce);
    return line;
}

struct stream {
    char *lines[256];
    size_t n;
};

static void stream_free(struct stream *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->lines[i]);
    st->n = 0;
}

/* Sign `count` events of one run with s (sealed: the last is destroyed). */
static void add_run(struct stream *st, struct signer *s, const char *run_id, int count, bool seal)
{
    for (int i = 0; i < count; i++) {
        json_t *ev = plain_event(run_id, i, i == count - 1, seal), *data = NULL;
        if (signer_wrap(s, ev, &data) == 0)
            st->lines[st->n++] = signed_line(data);
        json_decref(ev);
    }
}

static void add_line(struct stream *st, const char *line)
{
    st->lines[st->n++] = xstrdup(line);
}

static void stream_copy(struct stream *dst, const struct stream *src)
{
    dst->n = 0;
    for (size_t i = 0; i < src->n; i++)
        add_line(dst, src->lines[i]);
}

/* The standard stream: one sealed run of 6 events signed with SEED_A, kid k1. */
static void standard_stream(struct stream *st, const char *alg, const char *key)
{
    struct signer *s = make_signer(alg, "k1", key);
    st->n = 0;
    add_run(st, s, "run-1", 6, true);
    signer_free(s);
}

static struct verify_keys *keys_from(const char *json_text)
{
    struct verify_keys *k = NULL;
    struct cell_err err = { 0 };
    if (verify_keys_parse(json_text, strlen(json_text), &k, &err) < 0)
        printf("# keys: %s\n", err.msg);
    return k;
}

/* Keys {"k1": pk(SEED_A), "k2": pk(SEED_B)}. */
static struct verify_keys *ed_keys(void)
{
    _cleanup_free_ char *a = pubkey_of(SEED_A), *b = pubkey_of(SEED_B);
    _cleanup_free_ char *text = xasprintf("{\"k1\": \"%s\", \"k2\": \"%s\"}", a, b);
    return keys_from(text);
}

struct outcome {
    enum verify_verdict verdict;
    size_t findings;
    unsigned long first_line;
    enum verify_code first_code;
    char first_msg[512];
    size_t runs, sealed;
};

static struct outcome verify_stream(const struct verify_keys *keys, const struct stream *st)
{
    struct verifier *v = verifier_new(keys, NULL, NULL);
    for (size_t i = 0; i < st->n; i++)
        verifier_feed_line(v, st->lines[i], strlen(st->lines[i]));
    verifier_finish(v);
    struct outcome o = { .verdict = verifier_verdict(v) };
    struct verify_summary sum;
    verifier_summary(v, &sum);
    o.findings = sum.findings;
    o.runs = sum.runs;
    o.sealed = sum.runs_sealed;
    size_t n;
    const struct verify_finding *f = verifier_findings(v, &n);
    if (n) {
        o.first_line = f[0].lineno;
        o.first_code = f[0].code;
        snprintf(o.first_msg, sizeof(o.first_msg), "%s", f[0].message);
    }
    verifier_free(v);
    return o;
}

#define expect_first(o, code, line, what)                                               \
    do {                                                                                 \
        is_int((o).verdict, VERIFY_VERDICT_FAILED, "%s: failed", what);                  \
        is_str(verify_code_name((o).first_code), verify_code_name(code), "%s: code (%s)", \
               what, (o).first_msg);                                                     \
        is_int((o).first_line, line, "%s: first bad line (%s)", what, (o).first_msg);    \
    } while (0)

/* Replace the first occurrence of from by to in line (same or other length). */
static char *replace_once(const char *line, const char *from, const char *to)
{
    const char *at = strstr(line, from);
    if (!at)
        return xstrdup(line);
    return xasprintf("%.*s%s%s", (int)(at - line), line, to, at + strlen(from));
}

/* ---- keys and configuration --------------------------------------------- */

TEST(bad_key_configurations_fail_closed)
{
    static const struct { const char *alg, *kid, *key, *reason, *says; } table[] = {
        { "rsa", "k1", SEED_A, SIGN_REASON_CONFIG, "unknown value \"rsa\"" },
        { "off", "k1", SEED_A, SIGN_REASON_CONFIG, "unknown value" },
        { NULL, "k1", SEED_A, SIGN_REASON_CONFIG, "unknown value" },
        { "ed25519", NULL, SEED_A, SIGN_REASON_CONFIG, "kid: required" },
        { "ed25519", "", SEED_A, SIGN_REASON_CONFIG, "kid: required" },
        { "ed25519", "a\nb", SEED_A, SIGN_REASON_CONFIG, "control character" },
        { "ed25519", "\xff", SEED_A, SIGN_REASON_CONFIG, "UTF-8" },
        { "ed25519", "k1", NULL, SIGN_REASON_KEY, "empty or unset" },
        { "ed25519", "k1", "", SIGN_REASON_KEY, "empty or unset" },
        { "hmac", "k1", "", SIGN_REASON_KEY, "empty or unset" },
        { "ed25519", "k1", "AAEC AwQF", SIGN_REASON_KEY, "base64url" },
        { "ed25519", "k1", "AAEC+wQF", SIGN_REASON_KEY, "base64url" },
        { "ed25519", "k1", "AAE!", SIGN_REASON_KEY, "base64url" },
        { "hmac", "k1", "A", SIGN_REASON_KEY, "base64url" },
        { "ed25519", "k1", SEED_A "\n", SIGN_REASON_KEY, "base64url" },
        { "ed25519", "k1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg", SIGN_REASON_KEY,
          "32-byte seed, this one has 31 bytes" },
        { "ed25519", "k1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", SIGN_REASON_KEY,
          "has 33 bytes" },
        { "ed25519", "k1", HMAC_KEY, SIGN_REASON_KEY, "has 20 bytes" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        struct signer *s = (struct signer *)1;
        struct cell_err err = { 0 };
        ok(signer_new(table[i].alg, table[i].kid, table[i].key, &s, &err) < 0, "case %zu fails", i);
        ok(s == (struct signer *)1, "case %zu: out untouched", i);
        is_str(err.reason, table[i].reason, "case %zu reason", i);
        ok(strstr(err.msg, table[i].says) != NULL, "case %zu says \"%s\": %s", i,
           table[i].says, err.msg);
    }
    char long_kid[SIGN_KID_MAX + 2];
    memset(long_kid, 'k', sizeof(long_kid) - 1);
    long_kid[sizeof(long_kid) - 1] = '\0';
    struct signer *s = NULL;
    struct cell_err err = { 0 };
    ok(signer_new("ed25519", long_kid, SEED_A, &s, &err) < 0, "kid too long");
    long_kid[SIGN_KID_MAX] = '\0';
    ok(signer_new("ed25519", long_kid, SEED_A, &s, &err) == 0, "kid at the limit");
    signer_free(s);
}

TEST(padding_tolerated)
{
    _cleanup_free_ char *plain = pubkey_of(SEED_A), *padded = pubkey_of(SEED_A "=");
    is_str(padded, plain, "one '=' of padding");
    struct signer *s = make_signer("hmac", "k", "SmVmZQ==");    /* "Jefe" */
    ok(s != NULL, "hmac key with two '='");
    signer_free(s);
    s = make_signer("hmac", "k", "SmVmZQ===");
    ok(s == NULL, "three '=' refused");
}

TEST(signer_from_environment)
{
    struct signer *s = (struct signer *)1;
    struct cell_err err = { 0 };
    unsetenv("CELLOS_EVENT_SIGNING");
    is_int(signer_from_env(&s, &err), 0, "unset: off");
    ok(s == NULL, "no signer when off");
    setenv("CELLOS_EVENT_SIGNING", "off", 1);
    is_int(signer_from_env(&s, &err), 0, "off");
    ok(s == NULL, "no signer for off");

    setenv("CELLOS_EVENT_SIGNING", "ed2519", 1);
    ok(signer_from_env(&s, &err) < 0, "a typo fails closed");
    ok(strstr(err.msg, "CELLOS_EVENT_SIGNING: unknown value \"ed2519\"") != NULL, "%s", err.msg);

    setenv("CELLOS_EVENT_SIGNING", "ed25519", 1);
    unsetenv("CELLOS_EVENT_SIGNING_KID");
    setenv("CELLOS_EVENT_SIGNING_KEY_BASE64", SEED_A, 1);
    ok(signer_from_env(&s, &err) < 0, "missing kid");
    ok(strstr(err.msg, "CELLOS_EVENT_SIGNING_KID") != NULL, "%s", err.msg);

    setenv("CELLOS_EVENT_SIGNING_KID", "k1", 1);
    setenv("CELLOS_EVENT_SIGNING_KEY_BASE64", "AAAA", 1);
    ok(signer_from_env(&s, &err) < 0, "short key");
    ok(strstr(err.msg, "CELLOS_EVENT_SIGNING_KEY_BASE64: an ed25519 key is a 32-byte seed")
       != NULL, "%s", err.msg);

    setenv("CELLOS_EVENT_SIGNING_KEY_BASE64", SEED_A, 1);
    is_int(signer_from_env(&s, &err), 0, "good configuration");
    ok(s != NULL, "signer");
    signer_free(s);

    setenv("CELLOS_EVENT_SIGNING", "hmac", 1);
    setenv("CELLOS_EVENT_SIGNING_KEY_BASE64", HMAC_KEY, 1);
    is_int(signer_from_env(&s, &err), 0, "hmac");
    char pk[SIGN_PUBKEY_B64_LEN];
    is_int(signer_public_key(s, pk), -EINVAL, "no public key for hmac");
    signer_free(s);
    unsetenv("CELLOS_EVENT_SIGNING");
    unsetenv("CELLOS_EVENT_SIGNING_KID");
    unsetenv("CELLOS_EVENT_SIGNING_KEY_BASE64");
}

/* RFC 8032 section 7.1, test 1: the public key of the seed. */
TEST(rfc8032_public_key)
{
    _cleanup_free_ char *pk = pubkey_of("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
    is_str(pk, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "public key");
}

/* RFC 4231 test case 2 through sign_check. */
TEST(rfc4231_hmac_check)
{
    const char *msg = "what do ya want for nothing?";
    const uint8_t key[] = "Jefe";
    const char *tag = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM";
    is_int(sign_check(SIGN_ALG_HMAC_SHA256, key, 4, msg, strlen(msg), tag), 0, "tag holds");
    is_int(sign_check(SIGN_ALG_HMAC_SHA256, key, 4, msg, strlen(msg) - 1, tag), -EBADMSG,
           "other message");
    is_int(sign_check(SIGN_ALG_HMAC_SHA256, key, 3, msg, strlen(msg), tag), -EBADMSG,
           "other key");
    is_int(sign_check(SIGN_ALG_HMAC_SHA256, key, 4, msg, strlen(msg), "W9zB"), -EBADMSG,
           "short tag");
}

TEST(digest_text)
{
    uint8_t d[SIGN_DIGEST_BYTES], back[SIGN_DIGEST_BYTES];
    char text[SIGN_DIGEST_STR_LEN];
    sign_digest("abc", 3, d);
    sign_digest_format(d, text);
    is_str(text, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
           "SHA-256 of abc");
    is_int(sign_digest_parse(text, back), 0, "parses");
    ok(memcmp(d, back, sizeof(d)) == 0, "round trip");
    text[10] = 'A';
    is_int(sign_digest_parse(text, back), -EINVAL, "upper case refused");
    is_int(sign_digest_parse("sha256:00", back), -EINVAL, "short");
    is_int(sign_digest_parse("sha1:00", back), -EINVAL, "other hash");
}

/* ---- wrapping ----------------------------------------------------------- */

TEST(wrap_fields_and_chain)
{
    struct signer *s = make_signer("ed25519", "k1", SEED_A);
    _cleanup_free_ char *pk_text = pubkey_of(SEED_A);
    uint8_t pk[32];
    size_t pk_len = 0;
    sign_b64url_decode(pk_text, pk, sizeof(pk), &pk_len);
    json_t *ev = plain_event("run-x", 0, false, true), *d0 = NULL, *d1 = NULL;
    is_int(signer_next_seq(s), 0, "fresh signer");
    is_int(signer_wrap(s, ev, &d0), 0, "wrap 0");
    is_str(json_string_value(json_object_get(d0, "alg")), "ed25519", "alg");
    is_str(json_string_value(json_object_get(d0, "kid")), "k1", "kid");
    is_int(json_integer_value(json_object_get(d0, "seq")), 0, "seq 0");
    is_str(json_string_value(json_object_get(d0, "prevDigest")),
           "sha256:0000000000000000000000000000000000000000000000000000000000000000",
           "prevDigest of seq 0");
    is_int(json_object_size(d0), 6, "six members");
    ok(json_equal(json_object_get(d0, "event"), ev), "event carried");

    /* The signature holds over the canonical bytes of the five members. */
    struct buf bytes = BUF_INIT;
    is_int(sign_signed_bytes(d0, &bytes, NULL), 0, "signed bytes");
    ok(str_has_prefix(bytes.data, "{\"alg\":\"ed25519\",\"event\":{"), "canonical: %.40s", bytes.data);
    is_int(sign_check(SIGN_ALG_ED25519, pk, pk_len, bytes.data, bytes.len,
                      json_string_value(json_object_get(d0, "signature"))), 0, "signature holds");

    /* Changing the caller's event afterwards does not touch the envelope. */
    json_object_set_new(ev, "id", json_string("changed"));
    ok(!json_equal(json_object_get(d0, "event"), ev), "deep copy");

    is_int(signer_wrap(s, ev, &d1), 0, "wrap 1");
    is_int(json_integer_value(json_object_get(d1, "seq")), 1, "seq 1");
    uint8_t digest[SIGN_DIGEST_BYTES];
    char want[SIGN_DIGEST_STR_LEN];
    sign_digest(bytes.data, bytes.len, digest);
    sign_digest_format(digest, want);
    is_str(json_string_value(json_object_get(d1, "prevDigest")), want, "chained");
    is_int(signer_next_seq(s), 2, "two wrapped");

    json_t *not_object = json_string("x"), *d2 = NULL;
    is_int(signer_wrap(s, not_object, &d2), -EINVAL, "an event is an object");
    is_int(signer_next_seq(s), 2, "failure does not advance");
    json_decref(not_object);
    json_decref(ev);
    json_decref(d0);
    json_decref(d1);
    buf_free(&bytes);
    signer_free(s);
}

/* The bus lays the signed bytes out as text (signer_signed_bytes); they
 * must be exactly the canonical JSON the verifier computes from the
 * envelope, whatever the kid and the event hold. */
TEST(signed_bytes_text_equals_canonical)
{
    static const char *const kids[] = {
        "k1", "quote\"and\\backslash", "caf\xc3\xa9 \xf0\x9f\x98\x80 \xee\x80\x80", "/slash~",
    };
    for (size_t k = 0; k < ARRAY_SIZE(kids); k++) {
        struct signer *s = make_signer(k % 2 ? "hmac" : "ed25519", kids[k], k % 2 ? HMAC_KEY : SEED_A);
        for (int i = 0; i < 5; i++) {
            json_t *ev = plain_event("run-t", i, false, false);
            json_t *odd = json_pack("{s:f, s:f, s:I, s:s, s:b, s:n, s:[i,f]}",
                                    "\xf0\x9f\x98\x80", 1e21, "\xee\x80\x80", -0.0,
                                    "big", (json_int_t)9007199254740993LL,
                                    "ctl", "a\x01b\x1f\n\t\"\x7f/", "t", i % 2, "z", "arr", 7, 1e-7);
            json_object_set_new(ev, "odd", odd);
            struct buf text = BUF_INIT, canon = BUF_INIT;
            is_int(signer_signed_bytes(s, ev, &text), 0, "kid %zu event %d: laid out", k, i);
            json_t *data = NULL;
            is_int(signer_wrap(s, ev, &data), 0, "kid %zu event %d: wrapped", k, i);
            is_int(sign_signed_bytes(data, &canon, NULL), 0, "canonical");
            ok(text.len == canon.len && memcmp(text.data, canon.data, text.len) == 0,
               "kid %zu event %d: same bytes", k, i);
            json_decref(data);
            json_decref(ev);
            buf_free(&text);
            buf_free(&canon);
        }
        struct buf none = BUF_INIT;
        json_t *bad_event = json_object();
        json_object_set_new(bad_event, "x", json_string_nocheck("\xff"));
        uint64_t before = signer_next_seq(s);
        ok(signer_signed_bytes(s, bad_event, &none) < 0, "invalid UTF-8 has no canonical form");
        ok(none.len == 0 && signer_next_seq(s) == before, "nothing written, chain unmoved");
        json_decref(bad_event);
        buf_free(&none);
        signer_free(s);
    }
}

TEST(wrap_hmac)
{
    struct signer *s = make_signer("hmac", "h1", HMAC_KEY);
    json_t *ev = plain_event("run-h", 0, false, true), *d = NULL;
    is_int(signer_wrap(s, ev, &d), 0, "wrap");
    is_str(json_string_value(json_object_get(d, "alg")), "hmac-sha256", "envelope alg");
    struct buf bytes = BUF_INIT;
    sign_signed_bytes(d, &bytes, NULL);
    uint8_t key[64];
    size_t key_len = 0;
    sign_b64url_decode(HMAC_KEY, key, sizeof(key), &key_len);
    is_int(sign_check(SIGN_ALG_HMAC_SHA256, key, key_len, bytes.data, bytes.len,
                      json_string_value(json_object_get(d, "signature"))), 0, "tag holds");
    buf_free(&bytes);
    json_decref(ev);
    json_decref(d);
    signer_free(s);
}

/* ---- round trips -------------------------------------------------------- */

TEST(roundtrip_ed25519)
{
    struct stream st = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    struct verify_keys *keys = ed_keys();
    struct outcome o = verify_stream(keys, &st);
    is_int(o.verdict, VERIFY_VERDICT_OK, "verified: %s", o.first_msg);
    is_int(o.findings, 0, "no finding");
    is_int(o.runs, 1, "one run");
    is_int(o.sealed, 1, "sealed");
    o = verify_stream(NULL, &st);
    is_int(o.verdict, VERIFY_VERDICT_UNCHECKED, "without keys: unchecked, not OK");
    is_int(o.findings, 0, "still no finding");
    verify_keys_free(keys);
    stream_free(&st);
}

TEST(roundtrip_hmac)
{
    struct stream st = { 0 };
    standard_stream(&st, "hmac", HMAC_KEY);
    struct verify_keys *keys = keys_from("{\"k1\": \"" HMAC_KEY "\"}");
    struct outcome o = verify_stream(keys, &st);
    is_int(o.verdict, VERIFY_VERDICT_OK, "plain 20-byte key: %s", o.first_msg);
    verify_keys_free(keys);
    stream_free(&st);

    /* A 32-byte HMAC key must be written with its alg. */
    standard_stream(&st, "hmac", HMAC_KEY32);
    keys = keys_from("{\"k1\": \"" HMAC_KEY32 "\"}");
    o = verify_stream(keys, &st);
    expect_first(o, VERIFY_ALG_MISMATCH, 1, "plain 32-byte hmac key");
    ok(strstr(o.first_msg, "hmac-sha256") != NULL, "hint: %s", o.first_msg);
    verify_keys_free(keys);
    keys = keys_from("{\"k1\": {\"alg\": \"hmac-sha256\", \"key\": \"" HMAC_KEY32 "\"}}");
    o = verify_stream(keys, &st);
    is_int(o.verdict, VERIFY_VERDICT_OK, "explicit alg: %s", o.first_msg);
    verify_keys_free(keys);
    stream_free(&st);
}

TEST(interleaved_runs)
{
    struct stream a = { 0 }, b = { 0 }, mixed = { 0 };
    struct signer *sa = make_signer("ed25519", "k1", SEED_A);
    struct signer *sb = make_signer("ed25519", "k2", SEED_B);
    add_run(&a, sa, "run-a", 5, true);
    add_run(&b, sb, "run-b", 7, true);
    for (size_t i = 0; i < 7; i++) {
        if (i < a.n)
            add_line(&mixed, a.lines[i]);
        add_line(&mixed, b.lines[i]);
    }
    struct verify_keys *keys = ed_keys();
    struct outcome o = verify_stream(keys, &mixed);
    is_int(o.verdict, VERIFY_VERDICT_OK, "interleaved: %s", o.first_msg);
    is_int(o.runs, 2, "two runs");
    is_int(o.sealed, 2, "both sealed");
    verify_keys_free(keys);
    signer_free(sa);
    signer_free(sb);
    stream_free(&a);
    stream_free(&b);
    stream_free(&mixed);
}

/* ---- tampering ---------------------------------------------------------- */

TEST(one_byte_changed_in_any_event)
{
    struct stream st = { 0 }, t = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    struct verify_keys *keys = ed_keys();
    for (size_t i = 0; i < st.n; i++) {
        stream_copy(&t, &st);
        char *at = strstr(t.lines[i], "payload-");
        ok(at != NULL, "line %zu has the payload", i);
        if (at)
            at[0] = 'q';
        struct outcome o = verify_stream(keys, &t);
        char what[64];
        snprintf(what, sizeof(what), "event %zu changed", i);
        expect_first(o, VERIFY_BAD_SIGNATURE, i + 1, what);
        is_int(o.findings, 1, "%s: exactly one finding", what);
        stream_free(&t);
    }
    verify_keys_free(keys);
    stream_free(&st);
}

/* Without keys a change shows where the next envelope names the original;
 * only the last event of a run is beyond reach (hence exit 3, not 0). */
TEST(changed_event_without_keys)
{
    struct stream st = { 0 }, t = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    for (size_t i = 0; i < st.n; i++) {
        stream_copy(&t, &st);
        strstr(t.lines[i], "payload-")[0] = 'q';
        struct outcome o = verify_stream(NULL, &t);
        if (i + 1 < st.n) {
            char what[64];
            snprintf(what, sizeof(what), "event %zu changed, no keys", i);
            expect_first(o, VERIFY_CHAIN_BROKEN, i + 2, what);
        } else {
            is_int(o.verdict, VERIFY_VERDICT_UNCHECKED, "last event: only a signature tells");
        }
        stream_free(&t);
    }
    stream_free(&st);
}

/* Every byte of data, changed, in the middle and the last line: never OK. */
TEST(byte_sweep_never_verifies)
{
    struct stream st = { 0 }, t = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    struct verify_keys *keys = ed_keys();
    size_t checked = 0, passed = 0;
    const size_t which[] = { 2, 5 };
    for (size_t w = 0; w < ARRAY_SIZE(which); w++) {
        size_t i = which[w];
        const char *data = strstr(st.lines[i], "\"data\":");
        size_t from = (size_t)(data - st.lines[i]) + 7, to = strlen(st.lines[i]) - 1;
        for (size_t pos = from; pos < to; pos++) {
            stream_copy(&t, &st);
            t.lines[i][pos] ^= 0x01;
            struct outcome o = verify_stream(keys, &t);
            checked++;
            if (o.verdict == VERIFY_VERDICT_OK) {
                passed++;
                printf("# still verifies: line %zu byte %zu\n", i, pos);
            }
            stream_free(&t);
        }
    }
    ok(checked > 500, "%zu variants", checked);
    is_int(passed, 0, "no changed variant verifies");
    verify_keys_free(keys);
    stream_free(&st);
}

TEST(line_deleted)
{
    struct stream st = { 0 }, t = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    struct verify_keys *keys = ed_keys();
    for (size_t del = 0; del < st.n; del++) {
        t.n = 0;
        for (size_t i = 0; i < st.n; i++)
            if (i != del)
                add_line(&t, st.lines[i]);
        struct outcome o = verify_stream(keys, &t);
        char what[64];
        snprintf(what, sizeof(what), "line %zu deleted", del + 1);
        if (del == st.n - 1)
            expect_first(o, VERIFY_TRUNCATED, st.n - 1, what);
        else
            expect_first(o, VERIFY_SEQ_GAP, del + 1, what);
        stream_free(&t);
    }
    verify_keys_free(keys);
    stream_free(&st);
}

TEST(line_duplicated)
{
    struct stream st = { 0 }, t = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    struct verify_keys *keys = ed_keys();
    for (size_t dup = 0; dup < st.n; dup++) {
        t.n = 0;
        for (size_t i = 0; i < st.n; i++) {
            add_line(&t, st.lines[i]);
            if (i == dup)
                add_line(&t, st.lines[i]);
        }
        struct outcome o = verify_stream(keys, &t);
        char what[64];
        snprintf(what, sizeof(what), "line %zu duplicated", dup + 1);
        expect_first(o, VERIFY_DUPLICATE, dup + 2, what);
        is_int(o.findings, 1, "%s: one finding", what);
        stream_free(&t);
    }
    /* A copy replayed at the very end. */
    stream_copy(&t, &st);
    add_line(&t, st.lines[1]);
    struct outcome o = verify_stream(keys, &t);
    expect_first(o, VERIFY_DUPLICATE, st.n + 1, "replayed at the end");
    stream_free(&t);
    verify_keys_free(keys);
    stream_free(&st);
}

TEST(lines_swapped)
{
    struct stream st = { 0 }, t = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    struct verify_keys *keys = ed_keys();
    for (size_t a = 0; a + 1 < st.n; a++) {
        for (size_t b = a + 1; b < st.n; b++) {
            stream_copy(&t, &st);
            char *tmp = t.lines[a];
            t.lines[a] = t.lines[b];
            t.lines[b] = tmp;
            struct outcome o = verify_stream(keys, &t);
            char what[64];
            snprintf(what, sizeof(what), "lines %zu and %zu swapped", a + 1, b + 1);
            expect_first(o, VERIFY_REORDERED, a + 1, what);
            stream_free(&t);
        }
    }
    verify_keys_free(keys);
    stream_free(&st);
}

TEST(tail_truncated)
{
    struct stream st = { 0 }, t = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    struct verify_keys *keys = ed_keys();
    for (size_t cut = 1; cut < st.n; cut++) {
        t.n = 0;
        for (size_t i = 0; i + cut < st.n; i++)
            add_line(&t, st.lines[i]);
        struct outcome o = verify_stream(keys, &t);
        char what[64];
        snprintf(what, sizeof(what), "last %zu cut", cut);
        expect_first(o, VERIFY_TRUNCATED, st.n - cut, what);
        is_int(o.sealed, 0, "%s: not sealed", what);
        stream_free(&t);
    }
    /* Unsealed from the start (the supervisor died): the same finding. */
    struct signer *s = make_signer("ed25519", "k1", SEED_A);
    t.n = 0;
    add_run(&t, s, "run-open", 3, false);
    struct outcome o = verify_stream(keys, &t);
    expect_first(o, VERIFY_TRUNCATED, 3, "never sealed");
    ok(strstr(o.first_msg, "lifecycle.v1.destroyed") != NULL, "%s", o.first_msg);
    signer_free(s);
    stream_free(&t);
    verify_keys_free(keys);
    stream_free(&st);
}

TEST(resigned_with_another_key)
{
    struct stream st = { 0 };
    struct verify_keys *keys = ed_keys();
    /* The same kid, another key (a forger's). */
    standard_stream(&st, "ed25519", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh4");
    struct outcome o = verify_stream(keys, &st);
    expect_first(o, VERIFY_BAD_SIGNATURE, 1, "same kid, other key");
    is_int(o.findings, st.n, "every line");
    stream_free(&st);
    /* A kid nobody trusts. */
    struct signer *s = make_signer("ed25519", "forger", SEED_A);
    add_run(&st, s, "run-1", 4, true);
    o = verify_stream(keys, &st);
    expect_first(o, VERIFY_UNKNOWN_KID, 1, "unknown kid");
    signer_free(s);
    stream_free(&st);
    verify_keys_free(keys);
}

TEST(kid_changed)
{
    struct stream st = { 0 }, t = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    struct verify_keys *keys = ed_keys();
    stream_copy(&t, &st);
    char *edited = replace_once(t.lines[2], "\"kid\":\"k1\"", "\"kid\":\"k2\"");
    free(t.lines[2]);
    t.lines[2] = edited;
    struct outcome o = verify_stream(keys, &t);
    expect_first(o, VERIFY_BAD_SIGNATURE, 3, "kid edited to another trusted kid");
    stream_free(&t);

    stream_copy(&t, &st);
    edited = replace_once(t.lines[2], "\"kid\":\"k1\"", "\"kid\":\"k9\"");
    free(t.lines[2]);
    t.lines[2] = edited;
    o = verify_stream(keys, &t);
    expect_first(o, VERIFY_UNKNOWN_KID, 3, "kid edited to an unknown kid");
    stream_free(&t);

    /* Validly signed by two trusted keys, spliced into one run. */
    struct signer *s1 = make_signer("ed25519", "k1", SEED_A);
    struct signer *s2 = make_signer("ed25519", "k2", SEED_B);
    struct stream x = { 0 }, y = { 0 };
    add_run(&x, s1, "run-1", 6, true);
    add_run(&y, s2, "run-1", 6, true);
    for (size_t i = 0; i < 6; i++)
        add_line(&t, i < 3 ? x.lines[i] : y.lines[i]);
    o = verify_stream(keys, &t);
    expect_first(o, VERIFY_KID_CHANGED, 4, "two signers in one run");
    signer_free(s1);
    signer_free(s2);
    stream_free(&x);
    stream_free(&y);
    stream_free(&t);
    verify_keys_free(keys);
    stream_free(&st);
}

/* Two runs signed with the same key under the same runId, spliced: every
 * signature holds, the chain does not. */
TEST(splice_breaks_chain)
{
    struct signer *s1 = make_signer("ed25519", "k1", SEED_A);
    struct signer *s2 = make_signer("ed25519", "k1", SEED_A);
    struct stream x = { 0 }, y = { 0 }, t = { 0 };
    add_run(&x, s1, "run-1", 6, true);
    for (int i = 0; i < 3; i++) {      /* other content, same run */
        json_t *ev = plain_event("run-1", i + 10, false, true), *d = NULL;
        if (signer_wrap(s2, ev, &d) == 0)
            y.lines[y.n++] = signed_line(d);
        json_decref(ev);
    }
    add_run(&y, s2, "run-1", 3, true);     /* seq 3..5 of the other chain */
    for (size_t i = 0; i < 6; i++)
        add_line(&t, i < 3 ? x.lines[i] : y.lines[i]);
    struct verify_keys *keys = ed_keys();
    struct outcome o = verify_stream(keys, &t);
    expect_first(o, VERIFY_CHAIN_BROKEN, 4, "spliced chains");
    o = verify_stream(NULL, &t);
    expect_first(o, VERIFY_CHAIN_BROKEN, 4, "spliced chains, without keys");
    verify_keys_free(keys);
    signer_free(s1);
    signer_free(s2);
    stream_free(&x);
    stream_free(&y);
    stream_free(&t);
}

/* An Ed25519 public key is public: a forger must not get to use it as an
 * HMAC key by writing "alg": "hmac-sha256" into the envelopes. */
TEST(alg_confusion_refused)
{
    _cleanup_free_ char *pk = pubkey_of(SEED_A);
    struct signer *forger = make_signer("hmac", "k1", pk);
    struct stream st = { 0 };
    add_run(&st, forger, "run-1", 4, true);
    struct verify_keys *keys = ed_keys();
    struct outcome o = verify_stream(keys, &st);
    expect_first(o, VERIFY_ALG_MISMATCH, 1, "hmac keyed with the public key");
    verify_keys_free(keys);
    signer_free(forger);
    stream_free(&st);
}

/* A shuffled run: analysis stops after VERIFY_RUN_DISORDER_MAX late lines,
 * memory and time stay bounded, and the verdict still fails. */
TEST(too_disordered)
{
    struct signer *s = make_signer("ed25519", "k1", SEED_A);
    struct stream st = { 0 }, rev = { 0 };
    add_run(&st, s, "run-1", 150, true);
    for (size_t i = st.n; i-- > 0;)
        add_line(&rev, st.lines[i]);
    struct verify_keys *keys = ed_keys();
    struct verifier *v = verifier_new(keys, NULL, NULL);
    enum verify_code last = VERIFY_OK;
    for (size_t i = 0; i < rev.n; i++)
        last = verifier_feed_line(v, rev.lines[i], strlen(rev.lines[i]));
    verifier_finish(v);
    is_int(last, VERIFY_TOO_DISORDERED, "late lines are no longer placed");
    is_int(verifier_verdict(v), VERIFY_VERDICT_FAILED, "failed");
    size_t n;
    const struct verify_finding *f = verifier_findings(v, &n);
    is_int(n, VERIFY_RUN_DISORDER_MAX + 2, "gap, the late ones, the stop");
    if (n == VERIFY_RUN_DISORDER_MAX + 2) {
        is_int(f[0].lineno, 1, "first line");
        is_int(f[n - 1].code, VERIFY_TOO_DISORDERED, "stop reported");
    }
    verifier_free(v);
    verify_keys_free(keys);
    signer_free(s);
    stream_free(&st);
    stream_free(&rev);
}

TEST(events_after_destroyed)
{
    struct signer *s = make_signer("ed25519", "k1", SEED_A);
    struct stream st = { 0 };
    add_run(&st, s, "run-1", 4, true);
    add_run(&st, s, "run-1", 1, false);     /* seq 4, after the seal */
    struct verify_keys *keys = ed_keys();
    struct outcome o = verify_stream(keys, &st);
    expect_first(o, VERIFY_AFTER_SEAL, 5, "appended after destroyed");
    verify_keys_free(keys);
    signer_free(s);
    stream_free(&st);
}

TEST(not_signed_envelopes)
{
    struct stream st = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    json_t *plain = plain_event("run-1", 1, false, true);
    _cleanup_free_ char *plain_line = json_dumps(plain, JSON_COMPACT);
    json_decref(plain);
    _cleanup_free_ char *extra = replace_once(st.lines[1], "\"kid\":", "\"note\":\"x\",\"kid\":");
    _cleanup_free_ char *no_sig = replace_once(st.lines[1], "\"signature\":", "\"signaturX\":");
    _cleanup_free_ char *dup_key = replace_once(st.lines[1], "\"kid\":\"k1\"",
                                                "\"kid\":\"k1\",\"kid\":\"k1\"");
    _cleanup_free_ char *bad_prev = replace_once(st.lines[1], "\"prevDigest\":\"sha256:",
                                                 "\"prevDigest\":\"sha1:");
    _cleanup_free_ char *float_seq = replace_once(st.lines[1], "\"seq\":1", "\"seq\":1.0");
    const char *cases[] = {
        plain_line, "not json", "{\"type\": \"dev.cellos.events.signed.v1\"}", "[]",
        extra, no_sig, dup_key, bad_prev, float_seq, "{\"type\":\"dev.cellos.events.signed.v1\","
        "\"data\":{\"alg\":\"ed25519\",\"kid\":\"k1\",\"seq\":0,\"prevDigest\":\"sha256:"
        "0000000000000000000000000000000000000000000000000000000000000000\","
        "\"event\":{\"type\":\"x\",\"data\":{}},\"signature\":\"AA\"}}",
    };
    struct verify_keys *keys = ed_keys();
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        struct stream t = { 0 };
        stream_copy(&t, &st);
        free(t.lines[1]);
        t.lines[1] = xstrdup(cases[c]);
        struct outcome o = verify_stream(keys, &t);
        char what[64];
        snprintf(what, sizeof(what), "case %zu", c);
        expect_first(o, VERIFY_NOT_ENVELOPE, 2, what);
        stream_free(&t);
    }
    verify_keys_free(keys);
    stream_free(&st);
}

TEST(empty_input_fails)
{
    struct stream st = { 0 };
    struct outcome o = verify_stream(NULL, &st);
    expect_first(o, VERIFY_EMPTY, 0, "nothing");
    add_line(&st, "");
    add_line(&st, "   \r");
    o = verify_stream(NULL, &st);
    expect_first(o, VERIFY_EMPTY, 0, "blank lines only");
    stream_free(&st);
}

struct seen_lines {
    int calls, with_event, truncated;
    unsigned long last_line;
};

static void on_line(const struct verify_line *l, void *userdata)
{
    struct seen_lines *s = userdata;
    s->calls++;
    s->with_event += l->event != NULL;
    s->truncated += l->code == VERIFY_TRUNCATED;
    s->last_line = l->lineno;
}

TEST(per_line_callback)
{
    struct stream st = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    free(st.lines[--st.n]);                 /* cut the destroyed */
    struct verify_keys *keys = ed_keys();
    struct seen_lines seen = { 0 };
    struct verifier *v = verifier_new(keys, on_line, &seen);
    for (size_t i = 0; i < st.n; i++)
        is_int(verifier_feed_line(v, st.lines[i], strlen(st.lines[i])), VERIFY_OK, "line %zu", i);
    verifier_finish(v);
    is_int(seen.calls, (int)st.n + 1, "each line, then the truncation");
    is_int(seen.with_event, (int)st.n, "events handed over");
    is_int(seen.truncated, 1, "truncation reported");
    is_int(seen.last_line, st.n, "at the run's last line");
    size_t n;
    const struct verify_run *runs = verifier_runs(v, &n);
    is_int(n, 1, "one run");
    is_str(runs[0].run_id, "run-1", "run id");
    is_str(runs[0].cell_id, "demo", "cell id");
    is_str(runs[0].kid, "k1", "kid");
    is_int(runs[0].last_seq, 4, "last seq");
    ok(!runs[0].ok && !runs[0].sealed, "not ok, not sealed");
    verifier_free(v);
    verify_keys_free(keys);
    stream_free(&st);
}

TEST(keys_file_errors)
{
    static const struct { const char *text, *says; } table[] = {
        { "", "line" }, { "[]", "non-empty object" }, { "{}", "non-empty object" },
        { "{\"k\": 1}", "base64url string" }, { "{\"k\": \"A\"}", "not valid base64url" },
        { "{\"k\": {\"key\": \"AAAA\"}}", "{\"alg\"" },
        { "{\"k\": {\"alg\": \"rsa\", \"key\": \"AAAA\"}}", "alg must be" },
        { "{\"k\": {\"alg\": \"ed25519\", \"key\": \"AAAA\"}}", "32 bytes" },
        { "{\"k\": \"AAAA\", \"k\": \"AAAA\"}", "duplicate" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        struct verify_keys *k = NULL;
        struct cell_err err = { 0 };
        ok(verify_keys_parse(table[i].text, strlen(table[i].text), &k, &err) < 0, "case %zu", i);
        ok(strstr(err.msg, table[i].says) != NULL, "case %zu says \"%s\": %s", i,
           table[i].says, err.msg);
        ok(k == NULL, "case %zu: nothing returned", i);
    }
    struct verify_keys *k = NULL;
    struct cell_err err = { 0 };
    ok(verify_keys_load("/nonexistent/keys.json", &k, &err) < 0, "missing file");
    ok(strstr(err.msg, "/nonexistent/keys.json: No such file") != NULL, "%s", err.msg);
}

TEST(feed_file_lines)
{
    struct stream st = { 0 };
    standard_stream(&st, "ed25519", SEED_A);
    struct verify_keys *keys = ed_keys();
    FILE *f = tmpfile();
    fputs("\n", f);                                  /* blank first line */
    for (size_t i = 0; i < st.n; i++)
        fprintf(f, "%s%s", st.lines[i], i == st.n - 1 ? "" : i == 2 ? "\r\n" : "\n");
    rewind(f);
    struct verifier *v = verifier_new(keys, NULL, NULL);
    is_int(verifier_feed_file(v, f, NULL), 0, "read");
    verifier_finish(v);
    is_int(verifier_verdict(v), VERIFY_VERDICT_OK, "CRLF, blank line, no final newline");
    verifier_free(v);
    fclose(f);

    /* An overlong line is refused and numbered; memory stays bounded. */
    f = tmpfile();
    fprintf(f, "%s\n", st.lines[0]);
    for (size_t i = 0; i < VERIFY_LINE_MAX / 1000 + 10; i++)
        fputs("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", f);
    fputs("\n", f);
    for (size_t i = 1; i < st.n; i++)
        fprintf(f, "%s\n", st.lines[i]);
    rewind(f);
    v = verifier_new(keys, NULL, NULL);
    is_int(verifier_feed_file(v, f, NULL), 0, "read");
    verifier_finish(v);
    size_t n;
    const struct verify_finding *fd = verifier_findings(v, &n);
    is_int(n, 1, "one finding");
    if (n) {
        is_int(fd[0].lineno, 2, "the long line");
        is_int(fd[0].code, VERIFY_NOT_ENVELOPE, "refused");
    }
    verifier_free(v);
    fclose(f);
    verify_keys_free(keys);
    stream_free(&st);
}

TAP_MAIN
