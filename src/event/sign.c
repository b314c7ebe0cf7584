/* sign.c: key material and the producing side of signed event envelopes
 * (sign.h), and the keys files verifiers read (verify.h). */
#include "sign.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/strtab.h"
#include "json/canon.h"
#include "verify.h"

/* ---- algorithms -------------------------------------------------------- */

static const struct strtab_entry alg_envelope_names[] = {
    { SIGN_ALG_ED25519, "ed25519" },
    { SIGN_ALG_HMAC_SHA256, "hmac-sha256" },
    { SIGN_ALG_HMAC_SHA256, "hmac" },          /* read only */
};

static const struct strtab_entry alg_config_names[] = {
    { SIGN_ALG_ED25519, "ed25519" },
    { SIGN_ALG_HMAC_SHA256, "hmac" },
    { SIGN_ALG_HMAC_SHA256, "hmac-sha256" },
};

const char *sign_alg_name(enum sign_alg alg)
{
    return strtab_name(alg_envelope_names, ARRAY_SIZE(alg_envelope_names), (int)alg);
}

static int alg_lookup(const struct strtab_entry *tab, size_t n, const char *s,
                      enum sign_alg *out)
{
    int v = s ? strtab_value(tab, n, s) : -ENOENT;
    if (v < 0)
        return -EINVAL;
    *out = (enum sign_alg)v;
    return 0;
}

int sign_alg_from_config(const char *s, enum sign_alg *out)
{
    return alg_lookup(alg_config_names, ARRAY_SIZE(alg_config_names), s, out);
}

int sign_alg_from_envelope(const char *s, enum sign_alg *out)
{
    return alg_lookup(alg_envelope_names, ARRAY_SIZE(alg_envelope_names), s, out);
}

/* ---- encodings and digests --------------------------------------------- */

int sign_b64url_decode(const char *text, uint8_t *out, size_t cap, size_t *out_len)
{
    if (sodium_init() < 0)
        return -EIO;
    size_t len = strlen(text), pad = 0;
    while (len > 0 && text[len - 1] == '=' && pad < 2)
        len--, pad++;
    if (len == 0)
        return -EINVAL;
    if (len / 4 * 3 + (len % 4) * 3 / 4 > cap)   /* 6 bits per character */
        return -E2BIG;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, cap, text, len, NULL, &got, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != text + len)
        return -EINVAL;
    *out_len = got;
    return 0;
}

char *sign_b64url_encode(const uint8_t *bytes, size_t len)
{
    const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    size_t size = sodium_base64_ENCODED_LEN(len, variant);
    char *text = xcalloc(1, size);
    sodium_bin2base64(text, size, bytes, len, variant);
    return text;
}

void sign_digest(const void *bytes, size_t len, uint8_t out[SIGN_DIGEST_BYTES])
{
    crypto_hash_sha256(out, bytes, len);
}

void sign_digest_format(const uint8_t digest[SIGN_DIGEST_BYTES], char out[SIGN_DIGEST_STR_LEN])
{
    memcpy(out, SIGN_DIGEST_PREFIX, sizeof(SIGN_DIGEST_PREFIX) - 1);
    sodium_bin2hex(out + sizeof(SIGN_DIGEST_PREFIX) - 1, 2 * SIGN_DIGEST_BYTES + 1,
                   digest, SIGN_DIGEST_BYTES);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;   /* upper case is not the canonical spelling */
}

int sign_digest_parse(const char *s, uint8_t out[SIGN_DIGEST_BYTES])
{
    if (!s || !str_has_prefix(s, SIGN_DIGEST_PREFIX))
        return -EINVAL;
    s += sizeof(SIGN_DIGEST_PREFIX) - 1;
    if (strlen(s) != 2 * SIGN_DIGEST_BYTES)
        return -EINVAL;
    uint8_t d[SIGN_DIGEST_BYTES];
    for (size_t i = 0; i < SIGN_DIGEST_BYTES; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        d[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(out, d, sizeof(d));
    return 0;
}

/* ---- signed bytes, signatures ------------------------------------------ */

static const char *const signed_members[] = { "alg", "kid", "seq", "prevDigest", "event" };

int sign_signed_bytes(const json_t *data, struct buf *out, struct cell_err *err)
{
    json_t *payload = json_object();
    if (!payload)
        return cell_err_set(err, ENOMEM, "invalid_envelope", "out of memory");
    int r = 0;
    for (size_t i = 0; i < ARRAY_SIZE(signed_members) && r == 0; i++) {
        json_t *member = json_object_get(data, signed_members[i]);
        if (!member)
            r = cell_err_set(err, EINVAL, "invalid_envelope",
                             "envelope has no \"%s\"", signed_members[i]);
        else if (json_object_set(payload, signed_members[i], member) < 0)
            r = cell_err_set(err, ENOMEM, "invalid_envelope", "out of memory");
    }
    if (r == 0)
        r = json_canon(payload, out, err);
    json_decref(payload);
    return r;
}

static void hmac_sha256(const uint8_t *key, size_t key_len, const void *msg, size_t msg_len,
                        uint8_t tag[SIGN_HMAC_TAG_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, msg, msg_len);
    crypto_auth_hmacsha256_final(&st, tag);
    sodium_memzero(&st, sizeof(st));
}

int sign_check(enum sign_alg alg, const uint8_t *key, size_t key_len,
               const void *msg, size_t msg_len, const char *signature_b64url)
{
    uint8_t sig[SIGN_ED25519_SIG_BYTES];
    size_t sig_len = 0;
    size_t want = alg == SIGN_ALG_ED25519 ? SIGN_ED25519_SIG_BYTES : SIGN_HMAC_TAG_BYTES;
    if (!signature_b64url ||
        sign_b64url_decode(signature_b64url, sig, sizeof(sig), &sig_len) < 0 ||
        sig_len != want)
        return -EBADMSG;
    if (alg == SIGN_ALG_ED25519) {
        if (key_len != SIGN_ED25519_KEY_BYTES)
            return -EBADMSG;
        return crypto_sign_verify_detached(sig, msg, msg_len, key) == 0 ? 0 : -EBADMSG;
    }
    uint8_t tag[SIGN_HMAC_TAG_BYTES];
    hmac_sha256(key, key_len, msg, msg_len, tag);
    int r = sodium_memcmp(tag, sig, sizeof(tag)) == 0 ? 0 : -EBADMSG;
    sodium_memzero(tag, sizeof(tag));
    return r;
}

/* ---- the signer -------------------------------------------------------- */

struct signer {
    enum sign_alg alg;
    char *kid;
    char *kid_canon;          /* the kid as a canonical JSON string, quotes included */
    /* The chain: written by signer_advance() (the emitting thread) only. */
    uint64_t seq;
    uint8_t prev[SIGN_DIGEST_BYTES];
    /* sodium_malloc: Ed25519 secret key (seed + public key, 64 bytes) or the
     * HMAC key. Read-only once installed: signing only reads it, so any
     * number of threads may sign at once. */
    uint8_t *key;
    size_t key_len;
    uint8_t public_key[SIGN_ED25519_KEY_BYTES];
};

/* How messages name the three inputs (API names or environment variables). */
struct signer_labels {
    const char *alg, *kid, *key;
};

static const struct signer_labels api_labels = {
    "signing algorithm", "signing kid", "signing key",
};

static int check_kid(const char *kid, const struct signer_labels *l, struct cell_err *err)
{
    size_t len = kid ? strlen(kid) : 0;
    if (len == 0)
        return cell_err_set(err, EINVAL, SIGN_REASON_CONFIG,
                            "%s: required when signing is on", l->kid);
    if (len > SIGN_KID_MAX)
        return cell_err_set(err, EINVAL, SIGN_REASON_CONFIG,
                            "%s: longer than %d bytes", l->kid, SIGN_KID_MAX);
    for (const unsigned char *p = (const unsigned char *)kid; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return cell_err_set(err, EINVAL, SIGN_REASON_CONFIG,
                                "%s: contains a control character", l->kid);
    json_t *probe = json_string(kid);      /* NULL unless valid UTF-8 */
    if (!probe)
        return cell_err_set(err, EINVAL, SIGN_REASON_CONFIG,
                            "%s: not valid UTF-8", l->kid);
    json_decref(probe);
    return 0;
}

/* Decode the key text straight into sodium memory. */
static int decode_key(const char *text, uint8_t **out, size_t *out_len,
                      const struct signer_labels *l, struct cell_err *err)
{
    if (!text || !*text)
        return cell_err_set(err, EINVAL, SIGN_REASON_KEY,
                            "%s: empty or unset: a key is required when signing is on", l->key);
    size_t cap = strlen(text) / 4 * 3 + 3;
    uint8_t *key = sodium_malloc(cap);
    if (!key)
        return cell_err_set(err, ENOMEM, SIGN_REASON_KEY, "%s: cannot allocate locked memory", l->key);
    size_t len = 0;
    if (sign_b64url_decode(text, key, cap, &len) < 0) {
        sodium_free(key);
        return cell_err_set(err, EINVAL, SIGN_REASON_KEY,
                            "%s: not valid base64url (A-Z a-z 0-9 - _, '=' padding allowed)",
                            l->key);
    }
    *out = key;
    *out_len = len;
    return 0;
}

/* Turn the decoded key into what signing uses (the 64-byte Ed25519 secret
 * key, or the HMAC key as is). Consumes raw. */
static int install_key(struct signer *s, uint8_t *raw, size_t raw_len,
                       const struct signer_labels *l, struct cell_err *err)
{
    if (s->alg == SIGN_ALG_HMAC_SHA256) {
        if (raw_len == 0) {
            sodium_free(raw);
            return cell_err_set(err, EINVAL, SIGN_REASON_KEY, "%s: empty hmac key", l->key);
        }
        s->key = raw;
        s->key_len = raw_len;
        return 0;
    }
    if (raw_len != SIGN_ED25519_KEY_BYTES) {
        sodium_free(raw);
        return cell_err_set(err, EINVAL, SIGN_REASON_KEY,
                            "%s: an ed25519 key is a %d-byte seed, this one has %zu bytes",
                            l->key, SIGN_ED25519_KEY_BYTES, raw_len);
    }
    s->key = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!s->key) {
        sodium_free(raw);
        return cell_err_set(err, ENOMEM, SIGN_REASON_KEY, "%s: cannot allocate locked memory", l->key);
    }
    s->key_len = crypto_sign_SECRETKEYBYTES;
    crypto_sign_seed_keypair(s->public_key, s->key, raw);
    sodium_free(raw);     /* wipes the seed */
    return 0;
}

/* kid is valid UTF-8 without controls (check_kid), so this cannot fail. */
static char *canonical_string(const char *text)
{
    json_t *str = json_string(text);
    struct buf out = BUF_INIT;
    if (!str || json_canon(str, &out, NULL) < 0)
        abort();
    json_decref(str);
    return buf_steal(&out);
}

static int signer_create(const char *alg, const char *kid, const char *key_text,
                         const struct signer_labels *l, struct signer **out,
                         struct cell_err *err)
{
    if (sodium_init() < 0)
        return cell_err_set(err, EIO, SIGN_REASON_CONFIG, "libsodium cannot initialise");
    enum sign_alg a;
    if (sign_alg_from_config(alg, &a) < 0)
        return cell_err_set(err, EINVAL, SIGN_REASON_CONFIG,
                            "%s: unknown value \"%s\" (expected ed25519 or hmac)",
                            l->alg, alg ? alg : "");
    int r = check_kid(kid, l, err);
    if (r < 0)
        return r;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    r = decode_key(key_text, &raw, &raw_len, l, err);
    if (r < 0)
        return r;
    struct signer *s = xcalloc(1, sizeof(*s));
    s->alg = a;
    r = install_key(s, raw, raw_len, l, err);
    if (r < 0) {
        free(s);
        return r;
    }
    s->kid = xstrdup(kid);
    s->kid_canon = canonical_string(kid);
    /* Read-only for the signer's life: locked in RAM, guarded by guard
     * pages, wiped on free. Toggling it to no-access around every signature
     * cost two mprotect calls (and TLB flushes) per event, several times the
     * signature itself (bench/events). */
    sodium_mprotect_readonly(s->key);
    *out = s;
    return 0;
}

int signer_new(const char *alg, const char *kid, const char *key_b64url,
               struct signer **out, struct cell_err *err)
{
    return signer_create(alg, kid, key_b64url, &api_labels, out, err);
}

int signer_from_env(struct signer **out, struct cell_err *err)
{
    static const struct signer_labels env_labels = {
        "CELLOS_EVENT_SIGNING", "CELLOS_EVENT_SIGNING_KID", "CELLOS_EVENT_SIGNING_KEY_BASE64",
    };
    const char *alg = getenv("CELLOS_EVENT_SIGNING");
    if (!alg || !*alg || strcmp(alg, "off") == 0) {
        *out = NULL;
        return 0;
    }
    return signer_create(alg, getenv("CELLOS_EVENT_SIGNING_KID"),
                         getenv("CELLOS_EVENT_SIGNING_KEY_BASE64"), &env_labels, out, err);
}

void signer_free(struct signer *s)
{
    if (!s)
        return;
    if (s->key) {
        sodium_mprotect_readwrite(s->key);
        sodium_free(s->key);   /* zeroes before releasing */
    }
    free(s->kid);
    free(s->kid_canon);
    sodium_memzero(s, sizeof(*s));
    free(s);
}

uint64_t signer_next_seq(const struct signer *s)
{
    return s->seq;
}

int signer_public_key(const struct signer *s, char out[SIGN_PUBKEY_B64_LEN])
{
    if (s->alg != SIGN_ALG_ED25519)
        return -EINVAL;
    sodium_bin2base64(out, SIGN_PUBKEY_B64_LEN, s->public_key, sizeof(s->public_key),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}

/* Sign (or MAC) msg. */
static void signer_sign(const struct signer *s, const void *msg, size_t len,
                        uint8_t sig[SIGN_ED25519_SIG_BYTES], size_t *sig_len)
{
    if (s->alg == SIGN_ALG_ED25519) {
        crypto_sign_detached(sig, NULL, msg, len, s->key);
        *sig_len = SIGN_ED25519_SIG_BYTES;
    } else {
        hmac_sha256(s->key, s->key_len, msg, len, sig);
        *sig_len = SIGN_HMAC_TAG_BYTES;
    }
}

size_t signer_signature_text_len(const struct signer *s)
{
    size_t bytes = s->alg == SIGN_ALG_ED25519 ? SIGN_ED25519_SIG_BYTES : SIGN_HMAC_TAG_BYTES;
    return sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1;
}

void signer_sign_text(const struct signer *s, const void *msg, size_t len, char *out)
{
    uint8_t sig[SIGN_ED25519_SIG_BYTES];
    size_t sig_len;
    char text[SIGN_SIG_TEXT_MAX + 1];
    signer_sign(s, msg, len, sig, &sig_len);
    sodium_bin2base64(text, sizeof(text), sig, sig_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    memcpy(out, text, signer_signature_text_len(s));
    sodium_memzero(sig, sizeof(sig));   /* an HMAC tag of a secret key: no copies left about */
}

static void put_decimal(struct buf *out, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do
        digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    buf_append(out, digits + sizeof(digits) - n, n);
}

/* The canonical JSON of {alg, kid, seq, prevDigest, event} written out
 * directly: only event needs the general canonicalizer. Member names are
 * ASCII, so their UTF-16 order is their byte order: alg, event, kid,
 * prevDigest, seq. alg and the digest need no escaping; the kid's canonical
 * form was made once; seq stays far below 2^53, where a JCS number prints
 * as the plain integer. sign_signed_bytes() over the envelope gives the same
 * bytes (tests/unit/sign checks it). */
void signer_signed_bytes_open(const struct signer *s, struct buf *out)
{
    buf_puts(out, "{\"alg\":\"");
    buf_puts(out, sign_alg_name(s->alg));
    buf_puts(out, "\",\"event\":");
}

int signer_signed_bytes_close(const struct signer *s, struct buf *out)
{
    if (s->seq >= (uint64_t)1 << 53)
        return -EOVERFLOW;
    buf_puts(out, ",\"kid\":");
    buf_puts(out, s->kid_canon);
    char prev[SIGN_DIGEST_STR_LEN];
    sign_digest_format(s->prev, prev);
    buf_puts(out, ",\"prevDigest\":\"");
    buf_puts(out, prev);
    buf_puts(out, "\",\"seq\":");
    put_decimal(out, s->seq);
    buf_putc(out, '}');
    return 0;
}

int signer_signed_bytes(const struct signer *s, const json_t *event, struct buf *out)
{
    if (!s || !json_is_object(event))
        return -EINVAL;
    size_t start = out->len;
    signer_signed_bytes_open(s, out);
    int r = json_canon(event, out, NULL);
    if (r == 0)
        r = signer_signed_bytes_close(s, out);
    if (r < 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return r;
}

void signer_advance(struct signer *s, const void *signed_bytes, size_t len)
{
    sign_digest(signed_bytes, len, s->prev);
    s->seq++;
}

int signer_wrap(struct signer *s, json_t *event, json_t **envelope_data_out)
{
    if (!s || !json_is_object(event))
        return -EINVAL;
    _cleanup_buf_ struct buf bytes = BUF_INIT;
    int r = signer_signed_bytes(s, event, &bytes);
    if (r < 0)
        return r;
    char prev[SIGN_DIGEST_STR_LEN], sig[SIGN_SIG_TEXT_MAX + 1] = "";
    sign_digest_format(s->prev, prev);
    signer_sign_text(s, bytes.data, bytes.len, sig);
    json_t *data = json_pack("{s:s, s:s, s:I, s:s, s:o, s:s}",
                             "alg", sign_alg_name(s->alg),
                             "kid", s->kid,
                             "seq", (json_int_t)s->seq,
                             "prevDigest", prev,
                             "event", json_deep_copy(event),
                             "signature", sig);
    if (!data)
        return -ENOMEM;
    signer_advance(s, bytes.data, bytes.len);
    *envelope_data_out = data;
    return 0;
}

/* ---- keys files, for verifiers (verify.h) ----------------------------- */

struct verify_keys {
    struct verify_key *keys;
    size_t n;
};

void verify_keys_free(struct verify_keys *keys)
{
    if (!keys)
        return;
    for (size_t i = 0; i < keys->n; i++) {
        free(keys->keys[i].kid);
        sodium_free(keys->keys[i].key);
    }
    free(keys->keys);
    free(keys);
}

size_t verify_keys_count(const struct verify_keys *keys)
{
    return keys ? keys->n : 0;
}

const struct verify_key *verify_keys_find(const struct verify_keys *keys, const char *kid)
{
    for (size_t i = 0; i < keys->n; i++)
        if (strcmp(keys->keys[i].kid, kid) == 0)
            return &keys->keys[i];
    return NULL;
}

/* One entry: "<b64>" (alg by length) or {"alg": ..., "key": "<b64>"}. */
static int key_entry_parse(const char *kid, const json_t *value, struct verify_key *out,
                           struct cell_err *err)
{
    const char *text = json_string_value(value), *alg_text = NULL;
    if (json_is_object(value)) {
        json_t *k = json_object_get(value, "key"), *a = json_object_get(value, "alg");
        text = json_string_value(k);
        alg_text = json_string_value(a);
        if (!text || !alg_text || json_object_size(value) != 2)
            return cell_err_set(err, EINVAL, "invalid_keys",
                                "kid \"%s\": an object entry is {\"alg\": ..., \"key\": ...}", kid);
    }
    if (!text)
        return cell_err_set(err, EINVAL, "invalid_keys",
                            "kid \"%s\": a key is a base64url string", kid);
    size_t cap = strlen(text) / 4 * 3 + 3, len = 0;
    uint8_t *key = sodium_malloc(cap);
    if (!key)
        return cell_err_set(err, ENOMEM, "invalid_keys", "cannot allocate locked memory");
    if (sign_b64url_decode(text, key, cap, &len) < 0) {
        sodium_free(key);
        return cell_err_set(err, EINVAL, "invalid_keys", "kid \"%s\": key is not valid base64url", kid);
    }
    enum sign_alg alg = len == SIGN_ED25519_KEY_BYTES ? SIGN_ALG_ED25519 : SIGN_ALG_HMAC_SHA256;
    const char *why = NULL;
    if (alg_text && sign_alg_from_envelope(alg_text, &alg) < 0)
        why = "alg must be ed25519, hmac-sha256 or hmac";
    else if (alg == SIGN_ALG_ED25519 && len != SIGN_ED25519_KEY_BYTES)
        why = "an ed25519 public key has 32 bytes";
    if (why) {
        sodium_free(key);
        return cell_err_set(err, EINVAL, "invalid_keys", "kid \"%s\": %s", kid, why);
    }
    *out = (struct verify_key){ xstrdup(kid), alg, key, len, alg_text == NULL };
    return 0;
}

int verify_keys_parse(const char *text, size_t len, struct verify_keys **out,
                      struct cell_err *err)
{
    if (sodium_init() < 0)
        return cell_err_set(err, EIO, "invalid_keys", "libsodium cannot initialise");
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return cell_err_set(err, EINVAL, "invalid_keys", "line %d: %s", jerr.line, jerr.text);
    int r = 0;
    if (!json_is_object(root) || json_object_size(root) == 0)
        r = cell_err_set(err, EINVAL, "invalid_keys",
                         "expected a non-empty object {\"<kid>\": \"<base64url key>\"}");
    struct verify_keys *keys = xcalloc(1, sizeof(*keys));
    keys->keys = xcalloc(json_object_size(root), sizeof(*keys->keys));
    const char *kid;
    json_t *value;
    json_object_foreach(root, kid, value) {
        if (r < 0)
            break;
        r = key_entry_parse(kid, value, &keys->keys[keys->n], err);
        if (r == 0)
            keys->n++;
    }
    json_decref(root);
    if (r < 0) {
        verify_keys_free(keys);
        return r;
    }
    *out = keys;
    return 0;
}

int verify_keys_load(const char *path, struct verify_keys **out, struct cell_err *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = read_file_path(path, 1u << 20, &text, &len);
    if (r < 0)
        return cell_err_set(err, -r, "invalid_keys", "%s: %s", path, strerror(-r));
    r = verify_keys_parse(text, len, out, err);
    sodium_memzero(text, len);        /* it may hold HMAC keys */
    if (r < 0 && err) {            /* name the file */
        _cleanup_buf_ struct buf msg = BUF_INIT;
        buf_printf(&msg, "%s: %s", path, err->msg);
        snprintf(err->msg, sizeof(err->msg), "%s", msg.data);
    }
    return r;
}
