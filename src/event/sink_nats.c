/* sink_nats.c: the primary sink: NATS JetStream with publish acks.
 *
 * Every event is queued, in order, in a bounded in-memory buffer and
 * published synchronously with a JetStream ack; an event leaves the queue
 * only once the server acknowledged it. While the server is away the queue
 * holds on (the client reconnects in the background), and the next write or
 * the final flush retries from the head. Each message carries the event id
 * as its Nats-Msg-Id, so a publish repeated after a lost ack is
 * de-duplicated by the server: nothing is lost, nothing doubled, order kept.
 *
 * When the subject lies under cellos.events., a stream CELLOS_EVENTS
 * covering cellos.events.> is created if none exists; any other subject
 * needs a stream the operator made. */
#include <dlfcn.h>
#include <nats/nats.h>
#include <string.h>

#include "base/timeutil.h"
#include "event.h"

#define NATS_ACK_WAIT_MS 2000
#define NATS_DEFAULT_STREAM "CELLOS_EVENTS"
#define NATS_DEFAULT_PREFIX "cellos.events."

/* libnats (and through it OpenSSL) is loaded only when a run publishes to
 * NATS: linked normally, every cold start paid for mapping and relocating
 * libcrypto, a large share of a cell's start-up (bench/coldstart). */
#define NATS_FUNCTIONS(X)                                                      \
    X(natsStatus_GetText) X(natsConnection_Status) X(js_GetStreamInfo)         \
    X(jsStreamConfig_Init) X(js_AddStream) X(jsStreamInfo_Destroy)             \
    X(jsPubOptions_Init) X(js_Publish) X(jsPubAck_Destroy) X(nats_Sleep)       \
    X(jsCtx_Destroy) X(natsConnection_Destroy) X(natsOptions_Destroy)          \
    X(nats_Close) X(natsOptions_Create) X(natsOptions_SetURL)                  \
    X(natsOptions_SetTimeout) X(natsOptions_SetMaxReconnect)                   \
    X(natsOptions_SetReconnectWait) X(natsConnection_Connect)                  \
    X(natsConnection_JetStream)

#define DECLARE_POINTER(name) __typeof__(name) *name;
static struct {
    NATS_FUNCTIONS(DECLARE_POINTER)
} nats;
#undef DECLARE_POINTER

static int load_libnats(struct cell_err *err)
{
    static void *handle;
    if (handle)
        return 0;
    static const char *const names[] = { "libnats.so.3.4", "libnats.so.3", "libnats.so" };
    for (size_t i = 0; i < ARRAY_SIZE(names) && !handle; i++)
        handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle)
        return cell_err_set(err, ENOENT, "sink_failed",
                            "NATS: cannot load libnats (install the libnats3.4 package): %s",
                            dlerror());
#define LOAD_POINTER(name)                                                     \
    if (!(*(void **)&nats.name = dlsym(handle, #name)))                        \
        return cell_err_set(err, ENOENT, "sink_failed", "NATS: libnats lacks %s", #name);
    NATS_FUNCTIONS(LOAD_POINTER)
#undef LOAD_POINTER
    return 0;
}

struct queued_event {
    char *line;
    size_t len;
    char *msg_id;
};

struct nats_sink {
    struct event_sink base;
    natsConnection *nc;
    natsOptions *opts;
    jsCtx *js;
    char *subject;
    struct queued_event *queue; /* ring */
    size_t cap, head, count;
    uint64_t flush_timeout_ms;
    bool stream_checked;
};

static int nats_error(struct cell_err *err, natsStatus s, const char *what)
{
    return cell_err_set(err, EIO, "sink_failed", "NATS: %s: %s", what, nats.natsStatus_GetText(s));
}

static bool connected(const struct nats_sink *s)
{
    return nats.natsConnection_Status(s->nc) == NATS_CONN_STATUS_CONNECTED;
}

/* The event id, to de-duplicate retried publishes. */
static char *event_id_of(const char *line, size_t len)
{
    json_t *ev = json_loadb(line, len, 0, NULL);
    const char *id = json_string_value(json_object_get(ev, "id"));
    char *copy = xstrdup(id);
    json_decref(ev);
    return copy;
}

static int ensure_stream(struct nats_sink *s, struct cell_err *err)
{
    if (s->stream_checked || !str_has_prefix(s->subject, NATS_DEFAULT_PREFIX))
        return 0;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus st = nats.js_GetStreamInfo(&si, s->js, NATS_DEFAULT_STREAM, NULL, &jerr);
    if (st == NATS_NOT_FOUND) {
        jsStreamConfig cfg;
        nats.jsStreamConfig_Init(&cfg);
        const char *subjects[] = { NATS_DEFAULT_PREFIX ">" };
        cfg.Name = NATS_DEFAULT_STREAM;
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        st = nats.js_AddStream(&si, s->js, &cfg, NULL, &jerr);
    }
    nats.jsStreamInfo_Destroy(si);
    if (st != NATS_OK)
        return nats_error(err, st, "cannot find or create the stream " NATS_DEFAULT_STREAM);
    s->stream_checked = true;
    return 0;
}

static natsStatus publish_one(struct nats_sink *s, const struct queued_event *q)
{
    jsPubOptions po;
    nats.jsPubOptions_Init(&po);
    po.MaxWait = NATS_ACK_WAIT_MS;
    po.MsgId = q->msg_id;
    jsPubAck *ack = NULL;
    jsErrCode jerr = 0;
    natsStatus st = nats.js_Publish(&ack, s->js, s->subject, q->line, (int)q->len, &po, &jerr);
    nats.jsPubAck_Destroy(ack);
    return st;
}

static void drop_head(struct nats_sink *s)
{
    struct queued_event *q = &s->queue[s->head];
    free(q->line);
    free(q->msg_id);
    *q = (struct queued_event){ 0 };
    s->head = (s->head + 1) % s->cap;
    s->count--;
}

/* Publish from the head while the server answers. Returns 0 when the
 * queue is empty, -EAGAIN when the server is away (the events stay). */
static int drain(struct nats_sink *s, struct cell_err *err)
{
    while (s->count) {
        if (!connected(s) || ensure_stream(s, err) < 0)
            return -EAGAIN;
        natsStatus st = publish_one(s, &s->queue[s->head]);
        if (st != NATS_OK)
            return -EAGAIN;
        drop_head(s);
    }
    return 0;
}

static int nats_write(struct event_sink *self, const char *line, size_t len, struct cell_err *err)
{
    struct nats_sink *s = (struct nats_sink *)self;
    if (s->count == s->cap)
        return cell_err_set(err, ENOBUFS, "sink_failed",
                            "NATS: %zu events are waiting for the server; buffer full", s->count);
    size_t tail = (s->head + s->count) % s->cap;
    /* NATS messages carry the event without the JSONL newline. */
    size_t body = len && line[len - 1] == '\n' ? len - 1 : len;
    s->queue[tail] = (struct queued_event){ .line = xcalloc(1, body + 1), .len = body,
                                            .msg_id = event_id_of(line, body) };
    memcpy(s->queue[tail].line, line, body);
    s->count++;
    (void)drain(s, err);
    return 0;
}

/* End of the run: wait (bounded) for the server to take what is queued. */
static int nats_flush(struct event_sink *self, struct cell_err *err)
{
    struct nats_sink *s = (struct nats_sink *)self;
    uint64_t deadline = now_mono_ms() + s->flush_timeout_ms;
    while (drain(s, err) < 0 && now_mono_ms() < deadline)
        nats.nats_Sleep(50);
    if (s->count)
        return cell_err_set(err, ETIMEDOUT, "sink_failed",
                            "NATS: %zu events not acknowledged by %s within %llu ms", s->count,
                            s->subject, (unsigned long long)s->flush_timeout_ms);
    return 0;
}

static void nats_free(struct event_sink *self)
{
    struct nats_sink *s = (struct nats_sink *)self;
    while (s->count)
        drop_head(s);
    free(s->queue);
    nats.jsCtx_Destroy(s->js);
    nats.natsConnection_Destroy(s->nc);
    nats.natsOptions_Destroy(s->opts);
    free(s->subject);
    free(s);
    nats.nats_Close();
}

static natsStatus make_options(struct nats_sink *s, const char *url)
{
    natsStatus st = nats.natsOptions_Create(&s->opts);
    if (st == NATS_OK)
        st = nats.natsOptions_SetURL(s->opts, url);
    if (st == NATS_OK)
        st = nats.natsOptions_SetTimeout(s->opts, 1000);
    if (st == NATS_OK)
        st = nats.natsOptions_SetMaxReconnect(s->opts, -1); /* for the whole run */
    if (st == NATS_OK)
        st = nats.natsOptions_SetReconnectWait(s->opts, 100);
    return st;
}

int sink_nats_open(const struct nats_sink_config *cfg, struct event_sink **out, struct cell_err *err)
{
    int loaded = load_libnats(err);
    if (loaded < 0)
        return loaded;
    struct nats_sink *s = xcalloc(1, sizeof(*s));
    s->base = (struct event_sink){ .name = "nats", .write = nats_write, .flush = nats_flush,
                                   .free = nats_free };
    s->subject = xstrdup(cfg->subject);
    s->cap = cfg->buffer_events ? cfg->buffer_events : 10000;
    s->queue = xcalloc(s->cap, sizeof(*s->queue));
    s->flush_timeout_ms = cfg->flush_timeout_ms ? cfg->flush_timeout_ms : 15000;
    natsStatus st = make_options(s, cfg->url);
    if (st == NATS_OK)
        st = nats.natsConnection_Connect(&s->nc, s->opts);
    if (st == NATS_OK)
        st = nats.natsConnection_JetStream(&s->js, s->nc, NULL);
    int r = st == NATS_OK ? 0 : nats_error(err, st, cfg->url);
    if (r == 0 && (!connected(s) || ensure_stream(s, err) < 0))
        r = cell_err_set(err, ECONNREFUSED, "sink_failed", "NATS JetStream at %s is unreachable",
                         cfg->url);
    if (r < 0) {
        nats_free(&s->base);
        return r;
    }
    *out = &s->base;
    return 0;
}
