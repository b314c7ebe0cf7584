/* verify.h: checking signed event streams (`cellos verify`, CONTRACT
 * sections 1 and 5).
 *
 * A streaming verifier reads JSONL lines, one signed envelope each (see
 * sign.h), and groups them into runs by the inner event's data.runId, so
 * several runs interleaved in one file are fine. For every run it checks:
 * each signature with the key its kid names, seq = 0, 1, 2, ... in order,
 * prevDigest = digest of the previous envelope, no duplicate, and at the end
 * of the input that the run ends with lifecycle.v1.destroyed (else its tail
 * was cut off). Every problem becomes a finding with its line number; the
 * first finding is the first bad line.
 *
 * Without keys the signatures are not checked: structure, sequence, chain and
 * sealing still are, and the verdict is VERIFY_VERDICT_UNCHECKED, never OK.
 *
 * A per-line callback gives each line's status as it is read, for a timeline
 * that shows verification next to each event. */
#pragma once
#include <stdio.h>

#include <jansson.h>

#include "base/base.h"
#include "event/sign.h"

/* Longer lines are refused (an event is at most 1 MiB, CONTRACT section 5). */
#define VERIFY_LINE_MAX (2u << 20)
/* Findings kept in memory; more are counted only. */
#define VERIFY_FINDINGS_MAX 1000
/* Out-of-order lines analysed per run before its sequence analysis stops. */
#define VERIFY_RUN_DISORDER_MAX 100

#define VERIFY_SEALING_TYPE "dev.cellos.events.cell.lifecycle.v1.destroyed"

/* What a line (or a run) is found to be. Names: verify_code_name(). */
enum verify_code {
    VERIFY_OK,              /* "ok": signature holds, in sequence, chained */
    VERIFY_UNCHECKED,       /* "unchecked": as OK, but no key to check the signature */
    VERIFY_NOT_ENVELOPE,    /* "not_signed_envelope": not JSON, not a signed.v1
                               CloudEvent, or a malformed data object */
    VERIFY_UNKNOWN_KID,     /* "unknown_kid": no key for this kid */
    VERIFY_ALG_MISMATCH,    /* "alg_mismatch": the key is for another alg */
    VERIFY_BAD_SIGNATURE,   /* "signature_mismatch": changed, or signed by another key */
    VERIFY_KID_CHANGED,     /* "kid_changed": alg or kid differs within one run */
    VERIFY_SEQ_GAP,         /* "seq_gap": events before this one are missing (dropped) */
    VERIFY_REORDERED,       /* "reordered": out of sequence, the missing ones come later */
    VERIFY_DUPLICATE,       /* "duplicate": the same envelope again */
    VERIFY_SEQ_CONFLICT,    /* "seq_conflict": a different envelope with a seq already seen */
    VERIFY_CHAIN_BROKEN,    /* "chain_broken": prevDigest is not the previous envelope's digest */
    VERIFY_AFTER_SEAL,      /* "after_destroyed": an event after the run's destroyed */
    VERIFY_TRUNCATED,       /* "truncated": the run does not end with destroyed */
    VERIFY_TOO_DISORDERED,  /* "too_disordered": sequence analysis of the run stopped */
    VERIFY_EMPTY,           /* "empty": no signed event at all */
};

const char *verify_code_name(enum verify_code code);

enum verify_verdict {
    VERIFY_VERDICT_OK,         /* every signature checked and holding, no finding */
    VERIFY_VERDICT_FAILED,     /* at least one finding */
    VERIFY_VERDICT_UNCHECKED,  /* no finding, but no keys: signatures not checked */
};

/* ---- keys -------------------------------------------------------------- */

/* A keys file: a JSON object from kid to key. A key is either
 *   "<base64url>"                        a 32-byte value is an Ed25519 public
 *                                        key, any other length an HMAC key;
 *   {"alg": "ed25519"|"hmac-sha256"|"hmac", "key": "<base64url>"}
 * Each kid thus has exactly one alg, and an envelope naming another alg is
 * refused (an Ed25519 public key is no secret; it must never serve as an
 * HMAC key). HMAC keys live in sodium_malloc'd memory. */
struct verify_keys;

/* One kid's key, as the verifier uses it. */
struct verify_key {
    char *kid;
    enum sign_alg alg;
    uint8_t *key;            /* sodium_malloc */
    size_t len;
    bool alg_by_length;      /* a plain string: alg from its length */
};

int verify_keys_parse(const char *text, size_t len, struct verify_keys **out,
                      struct cell_err *err);
int verify_keys_load(const char *path, struct verify_keys **out, struct cell_err *err);
size_t verify_keys_count(const struct verify_keys *keys);
/* The key of kid, or NULL. */
const struct verify_key *verify_keys_find(const struct verify_keys *keys, const char *kid);
void verify_keys_free(struct verify_keys *keys);

/* ---- verifying --------------------------------------------------------- */

/* One line's status, as the verifier reads it. Borrowed, valid during the
 * callback only. A gap reported as VERIFY_SEQ_GAP can turn out to be a
 * reordering once the missing events arrive; the findings (not the callback)
 * hold the final word. At the end of input the callback also reports each
 * run-level finding (truncation) with event NULL. */
struct verify_line {
    unsigned long lineno;       /* 1-based */
    enum verify_code code;
    const char *message;        /* why, for a person; "" when fine */
    const char *run_id;         /* NULL when the line is not an envelope */
    int64_t seq;                /* -1 when unknown */
    const json_t *event;        /* the inner plain event, or NULL */
};

typedef void (*verify_line_fn)(const struct verify_line *line, void *userdata);

struct verify_finding {
    unsigned long lineno;       /* 0 for "empty" */
    enum verify_code code;
    char *run_id;               /* NULL when unknown */
    int64_t seq;                /* -1 when unknown */
    char *message;
};

struct verify_run {
    char *run_id;
    char *cell_id;              /* from the inner event's data.cellId, or NULL */
    char *kid;
    enum sign_alg alg;
    uint64_t envelopes;         /* lines of this run that were envelopes */
    int64_t last_seq;           /* highest seq seen */
    unsigned long first_line, last_line;
    bool sealed;                /* its highest seq is lifecycle.v1.destroyed */
    bool ok;                    /* no finding names this run */
};

struct verify_summary {
    unsigned long lines;        /* non-blank lines read */
    unsigned long envelopes;    /* of which signed envelopes */
    size_t runs;
    size_t runs_sealed;
    size_t findings;            /* all of them, also those not kept */
    bool signatures_checked;
};

struct verifier;

/* keys: borrowed, must outlive the verifier; NULL checks no signature.
 * on_line: may be NULL. */
struct verifier *verifier_new(const struct verify_keys *keys, verify_line_fn on_line,
                              void *userdata);
void verifier_free(struct verifier *v);

/* Feed one line (without its newline). Blank lines count for numbering and
 * are otherwise skipped. Returns the line's code. */
enum verify_code verifier_feed_line(struct verifier *v, const char *line, size_t len);

/* Feed a whole stream, line by line, bounded by VERIFY_LINE_MAX per line.
 * -errno only when reading fails. */
int verifier_feed_file(struct verifier *v, FILE *in, struct cell_err *err);

/* End of input: run-level checks (truncation, gaps that stayed gaps). Call
 * once, after the last line. */
void verifier_finish(struct verifier *v);

enum verify_verdict verifier_verdict(const struct verifier *v);
void verifier_summary(const struct verifier *v, struct verify_summary *out);
const struct verify_finding *verifier_findings(const struct verifier *v, size_t *n);
const struct verify_run *verifier_runs(const struct verifier *v, size_t *n);

/* `cellos verify [--keys FILE] [--json] EVENTS.jsonl` (src/cli/verify.c).
 * argv[0] is the verb. Exit status: 0 verified; 1 a finding (tampering,
 * truncation, unknown kid, ...); 2 usage or unreadable input; 3 intact as
 * far as can be told without keys, signatures not checked. */
int cmd_verify(int argc, char **argv);
