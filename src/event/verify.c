/* verify.c: the streaming verifier of signed event files. See verify.h. */
#include "verify.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/strtab.h"

/* ---- codes ------------------------------------------------------------- */

static const struct strtab_entry code_names[] = {
    { VERIFY_OK, "ok" },
    { VERIFY_UNCHECKED, "unchecked" },
    { VERIFY_NOT_ENVELOPE, "not_signed_envelope" },
    { VERIFY_UNKNOWN_KID, "unknown_kid" },
    { VERIFY_ALG_MISMATCH, "alg_mismatch" },
    { VERIFY_BAD_SIGNATURE, "signature_mismatch" },
    { VERIFY_KID_CHANGED, "kid_changed" },
    { VERIFY_SEQ_GAP, "seq_gap" },
    { VERIFY_REORDERED, "reordered" },
    { VERIFY_DUPLICATE, "duplicate" },
    { VERIFY_SEQ_CONFLICT, "seq_conflict" },
    { VERIFY_CHAIN_BROKEN, "chain_broken" },
    { VERIFY_AFTER_SEAL, "after_destroyed" },
    { VERIFY_TRUNCATED, "truncated" },
    { VERIFY_TOO_DISORDERED, "too_disordered" },
    { VERIFY_EMPTY, "empty" },
};

const char *verify_code_name(enum verify_code code)
{
    const char *n = strtab_name(code_names, ARRAY_SIZE(code_names), (int)code);
    return n ? n : "unknown";
}

static bool code_is_fine(enum verify_code c)
{
    return c == VERIFY_OK || c == VERIFY_UNCHECKED;
}

/* ---- state ------------------------------------------------------------- */

/* What the verifier remembers of each envelope of a run (sorted by seq). */
struct seen {
    uint64_t seq;
    unsigned long lineno;
    uint8_t digest[SIGN_DIGEST_BYTES];
    uint8_t prev[SIGN_DIGEST_BYTES];
    bool trusted;        /* signature held or was not checked: anchors the chain */
    bool sealing;        /* lifecycle.v1.destroyed */
};

/* Seqs missing at some line; at the end they either arrived (reordered) or
 * not (dropped). */
struct gap {
    uint64_t lo, hi;
    size_t finding;      /* index into findings, or SIZE_MAX when not kept */
};

struct run_track {
    struct seen *seen;
    size_t n, cap;
    struct gap *gaps;
    size_t n_gaps;
    uint64_t next_seq;   /* highest seq + 1 */
    unsigned disorder;
    bool stopped;
    int64_t seal_seq;    /* lowest seq of a lifecycle.v1.destroyed, or -1 */
    unsigned long seal_line;
};

struct verifier {
    const struct verify_keys *keys;
    verify_line_fn on_line;
    void *userdata;
    unsigned long lineno;
    struct verify_summary sum;
    struct verify_finding *findings;
    size_t n_findings;
    struct verify_run *runs;
    struct run_track *tracks;
    size_t n_runs, cap_runs;
    json_t *run_index;   /* runId -> index into runs */
    bool finished;
};

struct verifier *verifier_new(const struct verify_keys *keys, verify_line_fn on_line,
                              void *userdata)
{
    if (sodium_init() < 0)
        return NULL;
    struct verifier *v = xcalloc(1, sizeof(*v));
    v->keys = keys;
    v->on_line = on_line;
    v->userdata = userdata;
    v->sum.signatures_checked = keys != NULL;
    v->findings = xcalloc(VERIFY_FINDINGS_MAX, sizeof(*v->findings));
    v->run_index = json_object();
    return v;
}

void verifier_free(struct verifier *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n_findings; i++) {
        free(v->findings[i].run_id);
        free(v->findings[i].message);
    }
    for (size_t i = 0; i < v->n_runs; i++) {
        free(v->runs[i].run_id);
        free(v->runs[i].cell_id);
        free(v->runs[i].kid);
        free(v->tracks[i].seen);
        free(v->tracks[i].gaps);
    }
    free(v->findings);
    free(v->runs);
    free(v->tracks);
    json_decref(v->run_index);
    free(v);
}

/* Record a finding; returns its index (SIZE_MAX when only counted). */
static size_t add_finding(struct verifier *v, unsigned long lineno, enum verify_code code,
                          struct verify_run *run, int64_t seq, const char *message)
{
    v->sum.findings++;
    if (run)
        run->ok = false;
    if (v->n_findings == VERIFY_FINDINGS_MAX)
        return SIZE_MAX;
    v->findings[v->n_findings] = (struct verify_finding){
        lineno, code, run ? xstrdup(run->run_id) : NULL, seq, xstrdup(message),
    };
    return v->n_findings++;
}

static size_t run_get(struct verifier *v, const char *run_id)
{
    json_t *idx = json_object_get(v->run_index, run_id);
    if (idx)
        return (size_t)json_integer_value(idx);
    if (v->n_runs == v->cap_runs) {
        v->cap_runs = v->cap_runs ? v->cap_runs * 2 : 8;
        v->runs = xrealloc(v->runs, v->cap_runs * sizeof(*v->runs));
        v->tracks = xrealloc(v->tracks, v->cap_runs * sizeof(*v->tracks));
    }
    size_t i = v->n_runs++;
    v->runs[i] = (struct verify_run){ .run_id = xstrdup(run_id), .last_seq = -1, .ok = true };
    v->tracks[i] = (struct run_track){ .seal_seq = -1 };
    json_object_set_new(v->run_index, run_id, json_integer((json_int_t)i));
    return i;
}

/* ---- parsing one envelope ---------------------------------------------- */

struct envelope {
    json_t *root;
    json_t *event;
    const char *alg_text, *kid, *signature, *run_id, *cell_id;
    enum sign_alg alg;
    uint64_t seq;
    uint8_t prev[SIGN_DIGEST_BYTES];
    uint8_t digest[SIGN_DIGEST_BYTES];
    struct buf signed_bytes;
    bool sealing;
    bool ints_as_reals;
};

static void envelope_clear(struct envelope *e)
{
    json_decref(e->root);
    buf_free(&e->signed_bytes);
}

/* Exactly the six data members: returns NULL when so, else the name of a
 * missing one, or "" when there are others (unsigned extras could smuggle
 * content that a reader takes for authenticated). */
static const char *data_shape(json_t *data, struct envelope *e)
{
    static const char *const members[] = { "alg", "kid", "seq", "prevDigest", "event", "signature" };
    for (size_t i = 0; i < ARRAY_SIZE(members); i++)
        if (!json_object_get(data, members[i]))
            return members[i];
    if (json_object_size(data) != ARRAY_SIZE(members))
        return "";
    e->alg_text = json_string_value(json_object_get(data, "alg"));
    e->kid = json_string_value(json_object_get(data, "kid"));
    e->signature = json_string_value(json_object_get(data, "signature"));
    e->event = json_object_get(data, "event");
    return NULL;
}

/* base64url without padding of 64 bytes (Ed25519) or 32 (HMAC-SHA256):
 * one spelling per signature. */
static bool signature_shape_ok(enum sign_alg alg, const char *sig)
{
    if (strchr(sig, '='))
        return false;
    uint8_t raw[SIGN_ED25519_SIG_BYTES];
    size_t len = 0;
    size_t want = alg == SIGN_ALG_ED25519 ? SIGN_ED25519_SIG_BYTES : SIGN_HMAC_TAG_BYTES;
    return sign_b64url_decode(sig, raw, sizeof(raw), &len) == 0 && len == want;
}

static int reject(char *why, size_t len, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int reject(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* seq: a JSON integer in 0..2^53 (read as a double only when the line had
 * to be parsed that way). */
static int seq_value(const json_t *seq, bool ints_as_reals, uint64_t *out)
{
    const double max = (double)((uint64_t)1 << 53);
    if (json_is_integer(seq) && json_integer_value(seq) >= 0 &&
        json_integer_value(seq) <= ((json_int_t)1 << 53)) {
        *out = (uint64_t)json_integer_value(seq);
        return 0;
    }
    double d = json_real_value(seq);
    if (!ints_as_reals || !json_is_real(seq) || d < 0 || d > max || d != (double)(uint64_t)d)
        return -EINVAL;
    *out = (uint64_t)d;
    return 0;
}

/* A string usable as a C string: no NUL inside. */
static bool plain_string(const json_t *s)
{
    return json_string_length(s) == strlen(json_string_value(s));
}

static int envelope_parse(const char *line, size_t len, struct envelope *e, char *why, size_t whylen)
{
    json_error_t jerr;
    /* NUL is allowed in strings: the signer signs whatever jansson holds. */
    const size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
    e->root = json_loadb(line, len, flags, &jerr);
    if (!e->root && json_error_code(&jerr) == json_error_numeric_overflow) {
        /* An integer beyond int64 (another producer may write one): JCS
         * reads every number as a double, and so can we. */
        e->root = json_loadb(line, len, flags | JSON_DECODE_INT_AS_REAL, &jerr);
        e->ints_as_reals = true;
    }
    if (!e->root)
        return reject(why, whylen, "not JSON (column %d: %s)", jerr.column, jerr.text);
    const char *type = json_string_value(json_object_get(e->root, "type"));
    json_t *data = json_object_get(e->root, "data");
    if (!type || strcmp(type, SIGNED_EVENT_TYPE) != 0)
        return reject(why, whylen, "type is %s%.100s%s, not " SIGNED_EVENT_TYPE,
                      type ? "\"" : "", type ? type : "missing", type ? "\"" : "");
    if (!json_is_object(data))
        return reject(why, whylen, "data is not an object");
    const char *missing = data_shape(data, e);
    if (missing && *missing)
        return reject(why, whylen, "data has no \"%s\"", missing);
    if (missing)
        return reject(why, whylen, "data has members beyond alg, kid, seq, prevDigest, "
                      "event and signature");
    json_t *seq = json_object_get(data, "seq");
    json_t *edata = json_object_get(e->event, "data");
    e->run_id = json_string_value(json_object_get(edata, "runId"));
    e->cell_id = json_string_value(json_object_get(edata, "cellId"));
    const char *etype = json_string_value(json_object_get(e->event, "type"));
    if (!e->alg_text || sign_alg_from_envelope(e->alg_text, &e->alg) < 0)
        return reject(why, whylen, "alg is not ed25519 or hmac-sha256");
    if (!e->kid || !*e->kid || !plain_string(json_object_get(data, "kid")) ||
        strlen(e->kid) > SIGN_KID_MAX)
        return reject(why, whylen, "kid is not a string of 1..%d bytes without NUL",
                      SIGN_KID_MAX);
    if (seq_value(seq, e->ints_as_reals, &e->seq) < 0)
        return reject(why, whylen, "seq is not an integer in 0..2^53");
    if (sign_digest_parse(json_string_value(json_object_get(data, "prevDigest")), e->prev) < 0)
        return reject(why, whylen, "prevDigest is not sha256:<64 lower-case hex digits>");
    if (!json_is_object(e->event) || !etype || !e->run_id || !*e->run_id ||
        !plain_string(json_object_get(edata, "runId")))
        return reject(why, whylen, "event is not a CloudEvent with a type and data.runId");
    if (!e->signature || !signature_shape_ok(e->alg, e->signature))
        return reject(why, whylen, "signature is not base64url of a %s signature",
                      sign_alg_name(e->alg));
    struct cell_err cerr;
    if (sign_signed_bytes(data, &e->signed_bytes, &cerr) < 0)
        return reject(why, whylen, "cannot canonicalize: %s", cerr.msg);
    sign_digest(e->signed_bytes.data, e->signed_bytes.len, e->digest);
    e->sealing = strcmp(etype, VERIFY_SEALING_TYPE) == 0;
    return 0;
}

/* ---- signature --------------------------------------------------------- */

static enum verify_code check_signature(const struct verifier *v, const struct envelope *e,
                                        char *why, size_t whylen)
{
    if (!v->keys)
        return VERIFY_UNCHECKED;
    const struct verify_key *k = verify_keys_find(v->keys, e->kid);
    if (!k) {
        snprintf(why, whylen, "kid \"%s\" is not in the keys file", e->kid);
        return VERIFY_UNKNOWN_KID;
    }
    if (k->alg != e->alg) {
        snprintf(why, whylen, "kid \"%s\" holds an %s key, the envelope says %s%s", e->kid,
                 sign_alg_name(k->alg), e->alg_text,
                 k->alg_by_length && k->alg == SIGN_ALG_ED25519
                     ? " (a plain 32-byte key is an Ed25519 public key; write a 32-byte "
                       "HMAC key as {\"alg\": \"hmac-sha256\", \"key\": \"...\"})"
                     : "");
        return VERIFY_ALG_MISMATCH;
    }
    if (sign_check(k->alg, k->key, k->len, e->signed_bytes.data, e->signed_bytes.len,
                   e->signature) < 0) {
        snprintf(why, whylen, "the %s signature does not hold: the envelope was changed "
                 "or signed with another key", sign_alg_name(e->alg));
        return VERIFY_BAD_SIGNATURE;
    }
    return VERIFY_OK;
}

/* ---- sequence and chain ------------------------------------------------ */

/* First index whose seq is >= seq. */
static size_t seen_lower_bound(const struct run_track *t, uint64_t seq)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->seen[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct seen *seen_at(struct run_track *t, size_t i, uint64_t seq)
{
    return i < t->n && t->seen[i].seq == seq ? &t->seen[i] : NULL;
}

static void seen_insert(struct run_track *t, size_t at, const struct seen *s)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->seen = xrealloc(t->seen, t->cap * sizeof(*t->seen));
    }
    memmove(t->seen + at + 1, t->seen + at, (t->n - at) * sizeof(*t->seen));
    t->seen[at] = *s;
    t->n++;
}

static const uint8_t zero_digest[SIGN_DIGEST_BYTES];

/* Does s's prevDigest name its predecessor (when that one is known)? */
static bool chain_back_ok(struct run_track *t, size_t at, const struct seen *s,
                          char *why, size_t whylen)
{
    if (s->seq == 0) {
        if (memcmp(s->prev, zero_digest, sizeof(zero_digest)) == 0)
            return true;
        snprintf(why, whylen, "seq 0 must have prevDigest sha256:000...0");
        return false;
    }
    struct seen *before = at > 0 ? seen_at(t, at - 1, s->seq - 1) : NULL;
    if (!before || !before->trusted || !memcmp(s->prev, before->digest, SIGN_DIGEST_BYTES))
        return true;
    snprintf(why, whylen, "prevDigest is not the digest of seq %llu (line %lu): the chain "
             "is broken", (unsigned long long)before->seq, before->lineno);
    return false;
}

/* Does the successor of s (already seen, s arrived late) name s? */
static bool chain_forward_ok(struct run_track *t, size_t at, const struct seen *s,
                             char *why, size_t whylen)
{
    struct seen *after = seen_at(t, at + 1, s->seq + 1);
    if (!after || !s->trusted || !memcmp(after->prev, s->digest, SIGN_DIGEST_BYTES))
        return true;
    snprintf(why, whylen, "its digest is not the prevDigest of seq %llu (line %lu): the "
             "chain is broken", (unsigned long long)after->seq, after->lineno);
    return false;
}

/* The next seq of the run, in order. */
static enum verify_code track_in_order(struct run_track *t, const struct seen *s,
                                       char *why, size_t whylen)
{
    enum verify_code code = VERIFY_OK;
    if (!chain_back_ok(t, t->n, s, why, whylen))
        code = VERIFY_CHAIN_BROKEN;
    seen_insert(t, t->n, s);
    t->next_seq = s->seq + 1;
    return code;
}

/* A seq beyond the next: the ones between are missing, for now. */
static enum verify_code track_gap(struct verifier *v, size_t ri, const struct seen *s,
                                  char *why, size_t whylen)
{
    struct run_track *t = &v->tracks[ri];
    uint64_t lo = t->next_seq, hi = s->seq - 1;
    if (lo == hi)
        snprintf(why, whylen, "expected seq %llu, got %llu: seq %llu is missing (dropped, "
                 "or moved later)", (unsigned long long)lo, (unsigned long long)s->seq,
                 (unsigned long long)lo);
    else
        snprintf(why, whylen, "expected seq %llu, got %llu: seq %llu..%llu are missing "
                 "(dropped, or moved later)", (unsigned long long)lo,
                 (unsigned long long)s->seq, (unsigned long long)lo, (unsigned long long)hi);
    t->gaps = xrealloc(t->gaps, (t->n_gaps + 1) * sizeof(*t->gaps));
    t->gaps[t->n_gaps++] = (struct gap){ lo, hi, SIZE_MAX };
    seen_insert(t, t->n, s);
    t->next_seq = s->seq + 1;
    return VERIFY_SEQ_GAP;
}

/* A seq below the next: a duplicate, a conflicting copy, or a late one. */
static enum verify_code track_late(struct verifier *v, size_t ri, const struct seen *s,
                                   char *why, size_t whylen)
{
    struct run_track *t = &v->tracks[ri];
    size_t at = seen_lower_bound(t, s->seq);
    struct seen *same = seen_at(t, at, s->seq);
    if (same && !memcmp(same->digest, s->digest, SIGN_DIGEST_BYTES)) {
        snprintf(why, whylen, "seq %llu again: the same envelope as line %lu",
                 (unsigned long long)s->seq, same->lineno);
        return VERIFY_DUPLICATE;
    }
    if (same) {
        snprintf(why, whylen, "seq %llu again, with content different from line %lu",
                 (unsigned long long)s->seq, same->lineno);
        return VERIFY_SEQ_CONFLICT;
    }
    if (++t->disorder > VERIFY_RUN_DISORDER_MAX) {
        t->stopped = true;
        snprintf(why, whylen, "more than %d events out of order: sequence checks of this "
                 "run stop here", VERIFY_RUN_DISORDER_MAX);
        return VERIFY_TOO_DISORDERED;
    }
    const struct seen *last = &t->seen[t->n - 1];
    snprintf(why, whylen, "seq %llu arrives after seq %llu (line %lu): out of order",
             (unsigned long long)s->seq, (unsigned long long)last->seq, last->lineno);
    seen_insert(t, at, s);
    if (!chain_back_ok(t, at, s, why, whylen) || !chain_forward_ok(t, at, s, why, whylen))
        return VERIFY_CHAIN_BROKEN;
    return VERIFY_REORDERED;
}

static enum verify_code track_kid(struct verify_run *run, const struct envelope *e,
                                  char *why, size_t whylen)
{
    if (!run->kid) {
        run->kid = xstrdup(e->kid);
        run->alg = e->alg;
        return VERIFY_OK;
    }
    if (strcmp(run->kid, e->kid) == 0 && run->alg == e->alg)
        return VERIFY_OK;
    snprintf(why, whylen, "kid \"%s\" (%s) within a run signed by kid \"%s\" (%s) "
             "from line %lu", e->kid, sign_alg_name(e->alg), run->kid,
             sign_alg_name(run->alg), run->first_line);
    return VERIFY_KID_CHANGED;
}

/* Place the envelope in its run. Returns the line's code (its message in
 * why) and records the finding unless quiet (the line already has one). */
static enum verify_code track(struct verifier *v, size_t ri, const struct envelope *e,
                              bool trusted, bool quiet, char *why, size_t whylen)
{
    struct run_track *t = &v->tracks[ri];
    struct verify_run *run = &v->runs[ri];
    if (t->stopped) {
        snprintf(why, whylen, "not placed: sequence checks of this run stopped");
        return VERIFY_TOO_DISORDERED;
    }
    struct seen s = { .seq = e->seq, .lineno = v->lineno, .trusted = trusted,
                      .sealing = e->sealing };
    memcpy(s.digest, e->digest, sizeof(s.digest));
    memcpy(s.prev, e->prev, sizeof(s.prev));
    char kid_why[512];
    enum verify_code kid_code = track_kid(run, e, kid_why, sizeof(kid_why));
    enum verify_code code;
    size_t before = t->n;
    if (e->seq == t->next_seq)
        code = track_in_order(t, &s, why, whylen);
    else if (e->seq > t->next_seq)
        code = track_gap(v, ri, &s, why, whylen);
    else
        code = track_late(v, ri, &s, why, whylen);
    if (code_is_fine(code) && t->seal_seq >= 0 && (int64_t)e->seq > t->seal_seq) {
        snprintf(why, whylen, "an event after the run's lifecycle.v1.destroyed (line %lu)",
                 t->seal_line);
        code = VERIFY_AFTER_SEAL;
    }
    if (e->sealing && t->n > before && (t->seal_seq < 0 || (int64_t)e->seq < t->seal_seq)) {
        t->seal_seq = (int64_t)e->seq;
        t->seal_line = v->lineno;
    }
    if (kid_code != VERIFY_OK) {
        snprintf(why, whylen, "%s", kid_why);
        code = kid_code;
    }
    if (code_is_fine(code) || quiet)
        return code;
    size_t idx = add_finding(v, v->lineno, code, run, (int64_t)e->seq, why);
    if (code == VERIFY_SEQ_GAP)
        t->gaps[t->n_gaps - 1].finding = idx;
    return code;
}

/* ---- lines ------------------------------------------------------------- */

static void report(struct verifier *v, unsigned long lineno, enum verify_code code,
                   const char *why, const char *run_id, int64_t seq, const json_t *event)
{
    if (!v->on_line)
        return;
    struct verify_line l = { lineno, code, code_is_fine(code) ? "" : why, run_id, seq, event };
    v->on_line(&l, v->userdata);
}

static bool is_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", line[i]) || line[i] == '\0')
            return false;
    return true;
}

static enum verify_code not_envelope(struct verifier *v, const char *why)
{
    add_finding(v, v->lineno, VERIFY_NOT_ENVELOPE, NULL, -1, why);
    report(v, v->lineno, VERIFY_NOT_ENVELOPE, why, NULL, -1, NULL);
    return VERIFY_NOT_ENVELOPE;
}

static void run_note_line(struct verify_run *run, const struct envelope *e, unsigned long lineno)
{
    run->envelopes++;
    if (!run->first_line)
        run->first_line = lineno;
    run->last_line = lineno;
    if (!run->cell_id && e->cell_id)
        run->cell_id = xstrdup(e->cell_id);
    if ((int64_t)e->seq > run->last_seq)
        run->last_seq = (int64_t)e->seq;
}

/* A line past VERIFY_LINE_MAX: counted and refused, never held in memory. */
static void feed_overlong(struct verifier *v)
{
    char why[128];
    v->lineno++;
    v->sum.lines++;
    snprintf(why, sizeof(why), "line longer than %u bytes", VERIFY_LINE_MAX);
    not_envelope(v, why);
}

enum verify_code verifier_feed_line(struct verifier *v, const char *line, size_t len)
{
    if (len > VERIFY_LINE_MAX) {
        feed_overlong(v);
        return VERIFY_NOT_ENVELOPE;
    }
    v->lineno++;
    if (is_blank(line, len))
        return VERIFY_OK;
    v->sum.lines++;
    char why[768], seq_why[768];
    struct envelope e = { 0 };
    if (envelope_parse(line, len, &e, why, sizeof(why)) < 0) {
        envelope_clear(&e);
        return not_envelope(v, why);
    }
    v->sum.envelopes++;
    size_t ri = run_get(v, e.run_id);
    run_note_line(&v->runs[ri], &e, v->lineno);
    enum verify_code code = check_signature(v, &e, why, sizeof(why));
    bool sig_bad = !code_is_fine(code);
    if (sig_bad)
        add_finding(v, v->lineno, code, &v->runs[ri], (int64_t)e.seq, why);
    enum verify_code seq_code = track(v, ri, &e, !sig_bad, sig_bad, seq_why, sizeof(seq_why));
    if (!sig_bad && !code_is_fine(seq_code)) {
        code = seq_code;
        memcpy(why, seq_why, sizeof(why));
    }
    report(v, v->lineno, code, why, e.run_id, (int64_t)e.seq, e.event);
    envelope_clear(&e);
    return code;
}

static void feed_pending(struct verifier *v, struct buf *line, bool *overlong)
{
    if (*overlong)
        feed_overlong(v);
    else
        verifier_feed_line(v, line->data ? line->data : "", line->len);
    buf_reset(line);
    *overlong = false;
}

int verifier_feed_file(struct verifier *v, FILE *in, struct cell_err *err)
{
    _cleanup_buf_ struct buf line = BUF_INIT;
    _cleanup_free_ char *block = xcalloc(1, 1u << 16);
    bool overlong = false;
    size_t n;
    while ((n = fread(block, 1, 1u << 16, in)) > 0) {
        for (const char *p = block, *end = block + n; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t chunk = (size_t)((nl ? nl : end) - p);
            if (overlong || line.len + chunk > VERIFY_LINE_MAX)
                overlong = true;
            else
                buf_append(&line, p, chunk);
            p += chunk;
            if (!nl)
                break;
            feed_pending(v, &line, &overlong);
            p++;
        }
    }
    if (ferror(in))
        return cell_err_set(err, EIO, "read_failed", "read error");
    if (line.len || overlong)          /* a last line without its newline */
        feed_pending(v, &line, &overlong);
    return 0;
}

/* ---- the end ----------------------------------------------------------- */

/* Gaps whose seqs all arrived later were reorderings, not drops. */
static void settle_gaps(struct verifier *v, struct run_track *t)
{
    for (size_t g = 0; g < t->n_gaps; g++) {
        struct gap *gap = &t->gaps[g];
        if (gap->finding == SIZE_MAX)
            continue;
        size_t from = seen_lower_bound(t, gap->lo), to = seen_lower_bound(t, gap->hi + 1);
        if (to - from != gap->hi - gap->lo + 1)
            continue;
        struct verify_finding *f = &v->findings[gap->finding];
        char msg[512];
        snprintf(msg, sizeof(msg), "seq %llu expected, seq %lld came first; seq %llu comes "
                 "later (line %lu): out of order", (unsigned long long)gap->lo,
                 (long long)f->seq, (unsigned long long)gap->lo, t->seen[from].lineno);
        f->code = VERIFY_REORDERED;
        free(f->message);
        f->message = xstrdup(msg);
    }
}

static void finish_run(struct verifier *v, size_t ri)
{
    struct run_track *t = &v->tracks[ri];
    struct verify_run *run = &v->runs[ri];
    settle_gaps(v, t);
    if (t->stopped || t->n == 0)
        return;            /* what is known is already in the findings */
    const struct seen *last = &t->seen[t->n - 1];
    run->sealed = last->sealing && last->trusted;
    if (t->seal_seq >= 0)
        return;            /* sealed, or events after the seal (already found) */
    char why[512];
    snprintf(why, sizeof(why), "the run ends at seq %llu (line %lu) without "
             "lifecycle.v1.destroyed: its tail is missing",
             (unsigned long long)last->seq, last->lineno);
    add_finding(v, last->lineno, VERIFY_TRUNCATED, run, (int64_t)last->seq, why);
    report(v, last->lineno, VERIFY_TRUNCATED, why, run->run_id, (int64_t)last->seq, NULL);
}

void verifier_finish(struct verifier *v)
{
    if (v->finished)
        return;
    v->finished = true;
    for (size_t i = 0; i < v->n_runs; i++) {
        finish_run(v, i);
        v->sum.runs_sealed += v->runs[i].sealed;
    }
    v->sum.runs = v->n_runs;
    if (v->sum.envelopes == 0) {
        add_finding(v, 0, VERIFY_EMPTY, NULL, -1, "no signed event in the input");
        report(v, 0, VERIFY_EMPTY, "no signed event in the input", NULL, -1, NULL);
    }
}

enum verify_verdict verifier_verdict(const struct verifier *v)
{
    if (v->sum.findings > 0)
        return VERIFY_VERDICT_FAILED;
    return v->sum.signatures_checked ? VERIFY_VERDICT_OK : VERIFY_VERDICT_UNCHECKED;
}

void verifier_summary(const struct verifier *v, struct verify_summary *out)
{
    *out = v->sum;
    out->runs = v->n_runs;
}

const struct verify_finding *verifier_findings(const struct verifier *v, size_t *n)
{
    *n = v->n_findings;
    return v->findings;
}

const struct verify_run *verifier_runs(const struct verifier *v, size_t *n)
{
    *n = v->n_runs;
    return v->runs;
}
