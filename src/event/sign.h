/* sign.h: signed, hash-chained event envelopes (CONTRACT section 5, "Signing").
 *
 * With signing on, every event of a run is wrapped in the `data` of a
 * `dev.cellos.events.signed.v1` CloudEvent:
 *
 *   { "alg": "ed25519" | "hmac-sha256", "kid": "<key id>",
 *     "seq": 0, 1, 2, ...               (per run: one signer = one run)
 *     "prevDigest": "sha256:<hex>"      (of the previous envelope's signed
 *                                        bytes; 64 zeros for seq 0)
 *     "event": { the plain CloudEvent },
 *     "signature": "<base64url, no padding>" }
 *
 * The signed bytes are the RFC 8785 canonical JSON of the object above
 * without "signature". Ed25519 signs them (64-byte signature); HMAC-SHA256
 * authenticates them (32-byte tag). docs/signing.md has the full story.
 *
 * This module builds `data`; the event module builds the outer CloudEvent. */
#pragma once
#include <jansson.h>

#include "base/base.h"
#include "base/buf.h"

#define SIGNED_EVENT_TYPE "dev.cellos.events.signed.v1"

#define SIGN_DIGEST_BYTES 32
#define SIGN_DIGEST_PREFIX "sha256:"
/* "sha256:" + 64 hex digits + NUL */
#define SIGN_DIGEST_STR_LEN (sizeof(SIGN_DIGEST_PREFIX) - 1 + 2 * SIGN_DIGEST_BYTES + 1)
#define SIGN_ED25519_KEY_BYTES 32      /* the seed, and the public key */
#define SIGN_ED25519_SIG_BYTES 64
#define SIGN_HMAC_TAG_BYTES 32
#define SIGN_KID_MAX 256               /* bytes */
/* base64url of a 32-byte Ed25519 public key, plus NUL */
#define SIGN_PUBKEY_B64_LEN 44

/* Stable reason codes of struct cell_err for a bad signing configuration. */
#define SIGN_REASON_CONFIG "signing_config_invalid"
#define SIGN_REASON_KEY "signing_key_invalid"

enum sign_alg {
    SIGN_ALG_ED25519,
    SIGN_ALG_HMAC_SHA256,
};

/* The envelope's alg: "ed25519" or "hmac-sha256". */
const char *sign_alg_name(enum sign_alg alg);
/* A CELLOS_EVENT_SIGNING value: "ed25519" or "hmac". -EINVAL otherwise. */
int sign_alg_from_config(const char *s, enum sign_alg *out);
/* An envelope's alg: "ed25519" or "hmac-sha256" ("hmac" is read as
 * "hmac-sha256" too). -EINVAL otherwise. */
int sign_alg_from_envelope(const char *s, enum sign_alg *out);

/* ---- producing --------------------------------------------------------- */

struct signer;

/* A signer for one run. alg: "ed25519" or "hmac" (the CELLOS_EVENT_SIGNING
 * values; "hmac-sha256" is accepted too). kid: 1..SIGN_KID_MAX bytes of
 * UTF-8 without control characters. key_b64url: base64url, '=' padding
 * tolerated: an Ed25519 32-byte seed, or a non-empty HMAC key. Anything else
 * fails with a message naming what is wrong (never a signer that signs with
 * a key it half understood). The key lives in sodium_malloc'd, locked memory
 * (guard pages, never swapped), read-only while the signer lives, and is
 * wiped by signer_free. */
int signer_new(const char *alg, const char *kid, const char *key_b64url,
               struct signer **out, struct cell_err *err);

/* The same from CELLOS_EVENT_SIGNING, CELLOS_EVENT_SIGNING_KID and
 * CELLOS_EVENT_SIGNING_KEY_BASE64; messages name the variable. Signing off
 * (unset, empty or "off"): returns 0 and *out = NULL. An unknown value,
 * a missing kid or key, or a bad key: an error (the caller exits 125). */
int signer_from_env(struct signer **out, struct cell_err *err);

void signer_free(struct signer *s);
static inline void signer_freep(struct signer **s) { signer_free(*s); }
#define _cleanup_signer_ _cleanup_(signer_freep)

/* Wrap the next event of the run: *envelope_data_out receives a new object
 * {alg, kid, seq, prevDigest, event, signature} holding a deep copy of
 * event (later changes to event do not touch what was signed). seq and the
 * chain advance only on success. -EINVAL when the event cannot be
 * canonicalized (see json/canon.h), -EIO when the crypto library fails. */
int signer_wrap(struct signer *s, json_t *event, json_t **envelope_data_out);

/* The pieces of signer_wrap, for the bus (signer.c), which builds the
 * JSONL line as text and signs on another thread:
 *
 * signer_signed_bytes: append the signed bytes of the next envelope (the
 * canonical JSON of {alg, kid, seq, prevDigest, event}, exactly what
 * sign_signed_bytes() computes from the finished envelope) to out. -EINVAL
 * when the event is not an object or cannot be canonicalized (out is then
 * as it was). The chain does not move.
 * signer_advance: the chain moves past those bytes (seq + 1, prevDigest =
 * their digest). Both on the emitting thread only.
 * signer_sign_text: sign (or MAC) msg and write the base64url signature,
 * signer_signature_text_len(s) characters without a NUL, to out. It only
 * reads the key: callable from any thread, several at once, concurrently
 * with the two above. */
#define SIGN_SIG_TEXT_MAX 86   /* base64url of a 64-byte signature */
int signer_signed_bytes(const struct signer *s, const json_t *event, struct buf *out);
/* The same in three steps, for a caller that writes the event's canonical
 * JSON itself (event_canon): open, the canonical event, close (-EOVERFLOW
 * past seq 2^53). */
void signer_signed_bytes_open(const struct signer *s, struct buf *out);
int signer_signed_bytes_close(const struct signer *s, struct buf *out);
void signer_advance(struct signer *s, const void *signed_bytes, size_t len);
size_t signer_signature_text_len(const struct signer *s);
void signer_sign_text(const struct signer *s, const void *msg, size_t len, char *out);

/* The seq the next envelope will carry (= envelopes wrapped so far). */
uint64_t signer_next_seq(const struct signer *s);

/* Ed25519 only: the base64url (no padding) public key that verifiers put in
 * their keys file. -EINVAL for an HMAC signer. */
int signer_public_key(const struct signer *s, char out[SIGN_PUBKEY_B64_LEN]);

/* ---- pieces shared with the verifier ----------------------------------- */

/* The signed bytes of an envelope data object: the canonical JSON of its
 * alg, kid, seq, prevDigest and event members (all required; "signature"
 * and nothing else is left out). */
int sign_signed_bytes(const json_t *data, struct buf *out, struct cell_err *err);

/* SHA-256 of bytes. */
void sign_digest(const void *bytes, size_t len, uint8_t out[SIGN_DIGEST_BYTES]);
/* "sha256:<64 lower-case hex>" and back (-EINVAL unless exactly that form). */
void sign_digest_format(const uint8_t digest[SIGN_DIGEST_BYTES], char out[SIGN_DIGEST_STR_LEN]);
int sign_digest_parse(const char *s, uint8_t out[SIGN_DIGEST_BYTES]);

/* Decode base64url (padding tolerated, nothing else: no whitespace, no '+'
 * or '/') into out (cap bytes). -EINVAL on bad text, -E2BIG when it does not
 * fit. out may be sodium memory: nothing is copied elsewhere. */
int sign_b64url_decode(const char *text, uint8_t *out, size_t cap, size_t *out_len);
/* base64url without padding, heap string. */
char *sign_b64url_encode(const uint8_t *bytes, size_t len);

/* Check a signature (base64url text) over msg: 0 when it holds, -EBADMSG
 * when it does not (or is not the right length for alg). For HMAC the
 * comparison is constant-time. key: an Ed25519 public key (32 bytes) or the
 * HMAC key. */
int sign_check(enum sign_alg alg, const uint8_t *key, size_t key_len,
               const void *msg, size_t msg_len, const char *signature_b64url);
