/* signer.c: the signing pipeline (signer.h): a bounded ring of envelopes
 * between the emitting thread and one signing thread.
 *
 * Ring positions count up forever; slot = position % PIPELINE_SLOTS.
 *   [written, claimed)  taken by a signer: being signed, or signed (ready)
 *                       and waiting for the writer
 *   [claimed, pushed)   queued, not signed yet
 *   [pushed, written + PIPELINE_SLOTS)  free, owned by the emitting thread
 * The writer (one at a time: normally the signing thread) writes the
 * longest ready run starting at `written` in one go per sink, then moves
 * `written`. */
#include "signer.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "base/buf.h"
#include "base/timeutil.h"
#include "sign.h"

/* 64 envelopes of a few hundred bytes: enough to absorb a burst while the
 * emitting thread goes on, small enough that a run's tail is written soon. */
#define PIPELINE_SLOTS 64
/* Queued, unsigned envelopes at which the emitting thread starts signing
 * too: the signing thread alone cannot keep up with a burst. */
#define HELP_BACKLOG 2
/* In a burst, the signing thread writes once this many lines are ready. */
#define WRITE_BATCH 8
/* A slot's buffers are kept between events unless an outsized event grew
 * them beyond this. */
#define SLOT_KEEP_BYTES (64 * 1024)

struct slot {
    struct buf msg;    /* the signed bytes */
    struct buf line;   /* the JSONL line; the signature goes at sig_at */
    size_t sig_at;
    bool ready;        /* signature in place */
};

struct sign_pipeline {
    struct signer *signer;
    const struct event_ctx *ctx;
    size_t sig_len;
    char *source_json, *subject_json;   /* JSON strings, quotes included */
    struct event_sink *sinks[EVENT_BUS_MAX_SINKS];
    size_t n_sinks;

    pthread_mutex_t lock;
    pthread_cond_t work;     /* the signing thread waits for this */
    pthread_cond_t progress; /* the emitting thread waits for this */
    uint64_t pushed, claimed, written;
    bool writing;            /* one writer at a time: the sinks are not shared */
    bool worker_idle, caller_waiting, stopping, threaded;
    pthread_t thread;
    bool failed, failure_taken;
    struct cell_err failure;

    struct slot slots[PIPELINE_SLOTS];
};

static struct slot *slot_at(struct sign_pipeline *p, uint64_t pos)
{
    return &p->slots[pos % PIPELINE_SLOTS];
}

/* ---- signing and writing (lock held on entry and exit) ----------------- */

/* Sign the oldest queued envelope; the lock is dropped for the crypto. */
static void sign_one(struct sign_pipeline *p)
{
    struct slot *s = slot_at(p, p->claimed++);
    pthread_mutex_unlock(&p->lock);
    signer_sign_text(p->signer, s->msg.data, s->msg.len, s->line.data + s->sig_at);
    pthread_mutex_lock(&p->lock);
    s->ready = true;
}

static void record_failure(struct sign_pipeline *p, const struct cell_err *err)
{
    if (p->failed)
        return;
    p->failure = *err;
    /* Also read without the lock by sign_pipeline_take_failure's first look. */
    __atomic_store_n(&p->failed, true, __ATOMIC_RELEASE);
}

/* Every line of the batch to one sink: all at once when it can, else one by
 * one. Called without the lock: the batch's slots are ready and nobody else
 * touches them until `written` moves past them. */
static void write_batch(struct event_sink *sink, const struct iovec *lines, size_t n,
                        struct cell_err *first)
{
    struct cell_err err = { 0 };
    if (sink->write_lines && n > 1) {
        if (sink->write_lines(sink, lines, n, &err) < 0 && !first->msg[0])
            *first = err;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (sink->write(sink, lines[i].iov_base, lines[i].iov_len, &err) < 0 && !first->msg[0])
            *first = err;
}

/* Write the ready run at `written`; the lock is dropped for the I/O, and
 * `writing` keeps any other writer out meanwhile. */
static void write_ready(struct sign_pipeline *p)
{
    struct iovec lines[PIPELINE_SLOTS];
    size_t n = 0;
    for (uint64_t pos = p->written; pos < p->claimed && slot_at(p, pos)->ready; pos++, n++) {
        struct slot *s = slot_at(p, pos);
        lines[n] = (struct iovec){ s->line.data, s->line.len };
    }
    struct event_sink *sinks[EVENT_BUS_MAX_SINKS];
    size_t n_sinks = p->n_sinks;
    memcpy(sinks, p->sinks, sizeof(sinks));
    p->writing = true;
    pthread_mutex_unlock(&p->lock);
    struct cell_err first = { 0 };
    for (size_t i = 0; i < n_sinks; i++)
        write_batch(sinks[i], lines, n, &first);
    pthread_mutex_lock(&p->lock);
    p->writing = false;
    for (size_t i = 0; i < n; i++)
        slot_at(p, p->written + i)->ready = false;
    p->written += n;
    if (first.msg[0])
        record_failure(p, &first);
    if (p->caller_waiting)
        pthread_cond_signal(&p->progress);
}

static bool writable(struct sign_pipeline *p)
{
    return !p->writing && p->written < p->claimed && slot_at(p, p->written)->ready;
}

/* Write now, or sign first? An event alone is written right after its
 * signature. In a burst, lines wait until WRITE_BATCH of them are ready, or
 * until nothing is left to sign and no signature is still being made (by
 * the emitting thread), so that they share the system calls. */
static bool time_to_write(struct sign_pipeline *p)
{
    if (!writable(p))
        return false;
    uint64_t pos = p->written;
    while (pos < p->claimed && pos - p->written < WRITE_BATCH && slot_at(p, pos)->ready)
        pos++;
    if (pos - p->written == WRITE_BATCH)
        return true;
    return p->claimed == p->pushed && pos == p->claimed;
}

static void *signing_thread(void *arg)
{
    struct sign_pipeline *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (time_to_write(p)) {
            write_ready(p);
        } else if (p->claimed < p->pushed) {
            sign_one(p);
        } else if (p->stopping) {
            break;
        } else {
            p->worker_idle = true;
            pthread_cond_wait(&p->work, &p->lock);
            p->worker_idle = false;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The emitting thread lends a hand: sign one queued envelope, and let the
 * signing thread know there is something to write. Without a thread, write
 * it too. Lock held. */
static void caller_sign_one(struct sign_pipeline *p)
{
    sign_one(p);
    if (!p->threaded) {
        while (writable(p))
            write_ready(p);
    } else if (p->worker_idle) {
        pthread_cond_signal(&p->work);
    }
}

/* The emitting thread needs the writer to move on (a full ring, a drain):
 * it writes what is ready itself rather than wait for a signing thread the
 * scheduler may not be running, and waits only while another write or a
 * signature is in progress. Lock held. */
static void caller_wait(struct sign_pipeline *p)
{
    if (writable(p)) {
        write_ready(p);
        return;
    }
    p->caller_waiting = true;
    pthread_cond_wait(&p->progress, &p->lock);
    p->caller_waiting = false;
}

/* ---- the emitting thread ------------------------------------------------ */

static char *json_string_text(const char *s)
{
    json_t *str = json_string(s);
    char *text = str ? json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(str);
    return text ? text : xstrdup("\"\"");
}

static bool start_thread(struct sign_pipeline *p)
{
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    int r = pthread_create(&p->thread, NULL, signing_thread, p);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return r == 0;
}

struct sign_pipeline *sign_pipeline_new(struct signer *signer, const struct event_ctx *ctx,
                                        struct event_sink *const *sinks, size_t n_sinks)
{
    struct sign_pipeline *p = xcalloc(1, sizeof(*p));
    p->signer = signer;
    p->ctx = ctx;
    p->sig_len = signer_signature_text_len(signer);
    p->source_json = json_string_text(ctx->source ? ctx->source : "");
    _cleanup_free_ char *subject = xasprintf("urn:cellos:cell:%s", ctx->cell_id ? ctx->cell_id : "");
    p->subject_json = json_string_text(subject);
    for (size_t i = 0; i < n_sinks && i < EVENT_BUS_MAX_SINKS; i++)
        p->sinks[p->n_sinks++] = sinks[i];
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->progress, NULL);
    p->threaded = start_thread(p);
    return p;
}

/* The outer CloudEvent around the signed bytes, as text: the same members
 * in the same order as event_envelope_new(), then data = the signed bytes
 * with "signature" added as their last member. The signature's place is
 * filled with '=' (never valid base64url) until it is signed. */
static void layout_line(struct sign_pipeline *p, struct slot *s)
{
    char id[EVENT_ID_URN_LEN], now[32];
    event_id_urn(id);
    now_rfc3339(now);
    struct buf *l = &s->line;
    l->len = 0;
    buf_reserve(l, s->msg.len + 512);
    buf_puts(l, "{\"specversion\":\"1.0\",\"id\":\"");
    buf_puts(l, id);
    buf_puts(l, "\",\"source\":");
    buf_puts(l, p->source_json);
    buf_puts(l, ",\"type\":\"" SIGNED_EVENT_TYPE "\",\"time\":\"");
    buf_puts(l, now);
    buf_puts(l, "\",\"datacontenttype\":\"application/json\",\"subject\":");
    buf_puts(l, p->subject_json);
    buf_puts(l, ",\"data\":");
    buf_append(l, s->msg.data, s->msg.len - 1);      /* without its closing brace */
    buf_puts(l, ",\"signature\":\"");
    s->sig_at = l->len;
    for (size_t i = 0; i < p->sig_len; i++)
        buf_putc(l, '=');
    buf_puts(l, "\"}}\n");
}

static void slot_trim(struct slot *s)
{
    if (s->msg.cap > SLOT_KEEP_BYTES)
        buf_free(&s->msg);
    if (s->line.cap > SLOT_KEEP_BYTES)
        buf_free(&s->line);
    s->msg.len = 0;
}

/* Build, canonicalize and lay out into a free slot; the chain moves on
 * success. Steals data. */
static int fill_slot(struct sign_pipeline *p, struct slot *s, enum event_type type,
                     json_t *data, struct cell_err *err)
{
    slot_trim(s);
    signer_signed_bytes_open(p->signer, &s->msg);
    int r = event_canon(p->ctx, type, data, &s->msg);
    if (r == 0)
        r = signer_signed_bytes_close(p->signer, &s->msg);
    if (r < 0)
        return cell_err_set(err, -r, "sink_failed", "cannot sign an event: %s", strerror(-r));
    signer_advance(p->signer, s->msg.data, s->msg.len);
    layout_line(p, s);
    if (s->line.len > EVENT_MAX_BYTES)
        return cell_err_set(err, EMSGSIZE, "sink_failed",
                            "a signed event is %zu bytes, over the 1 MiB limit", s->line.len);
    return 0;
}

int sign_pipeline_push(struct sign_pipeline *p, enum event_type type, json_t *data,
                       struct cell_err *err)
{
    pthread_mutex_lock(&p->lock);
    while (p->pushed - p->written == PIPELINE_SLOTS) {
        if (p->claimed < p->pushed)
            caller_sign_one(p);
        else
            caller_wait(p);
    }
    struct slot *s = slot_at(p, p->pushed);
    pthread_mutex_unlock(&p->lock);

    int r = fill_slot(p, s, type, data, err);   /* a free slot: ours alone */

    pthread_mutex_lock(&p->lock);
    bool wake = false;
    if (r == 0) {
        p->pushed++;
        if (!p->threaded || p->pushed - p->claimed >= HELP_BACKLOG)
            caller_sign_one(p);
        /* Woken after the unlock, so that it does not wake into our lock. */
        wake = p->worker_idle;
    }
    pthread_mutex_unlock(&p->lock);
    if (wake)
        pthread_cond_signal(&p->work);
    return r;
}

void sign_pipeline_drain(struct sign_pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->written < p->pushed) {
        if (p->claimed < p->pushed)
            caller_sign_one(p);
        else
            caller_wait(p);
    }
    pthread_mutex_unlock(&p->lock);
}

bool sign_pipeline_take_failure(struct sign_pipeline *p, struct cell_err *out)
{
    if (!__atomic_load_n(&p->failed, __ATOMIC_ACQUIRE))   /* the common case: no lock */
        return false;
    pthread_mutex_lock(&p->lock);
    bool fresh = p->failed && !p->failure_taken;
    if (fresh) {
        *out = p->failure;
        p->failure_taken = true;
    }
    pthread_mutex_unlock(&p->lock);
    return fresh;
}

void sign_pipeline_set_sinks(struct sign_pipeline *p, struct event_sink *const *sinks,
                             size_t n_sinks)
{
    sign_pipeline_drain(p);
    pthread_mutex_lock(&p->lock);
    p->n_sinks = 0;
    for (size_t i = 0; i < n_sinks && i < EVENT_BUS_MAX_SINKS; i++)
        p->sinks[p->n_sinks++] = sinks[i];
    pthread_mutex_unlock(&p->lock);
}

void sign_pipeline_free(struct sign_pipeline *p)
{
    if (!p)
        return;
    sign_pipeline_drain(p);
    if (p->threaded) {
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_signal(&p->work);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
    }
    for (size_t i = 0; i < PIPELINE_SLOTS; i++) {
        buf_free(&p->slots[i].msg);
        buf_free(&p->slots[i].line);
    }
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->progress);
    pthread_mutex_destroy(&p->lock);
    free(p->source_json);
    free(p->subject_json);
    free(p);
}
