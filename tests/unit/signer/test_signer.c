/* test_signer: the signed event bus (src/event/bus.c, signer.c): every event
 * signed, chained and written in order by the signing thread, nothing lost
 * at flush, close or on a failing sink, failures reported to the run, and
 * the destroyed event told about them. Streams are checked with the real
 * verifier. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event/event.h"
#include "event/sign.h"
#include "event/verify.h"
#include "json/canon.h"
#include "tap.h"

#define SEED "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"   /* bytes 0..31 */
#define HMAC_KEY "Y2VsbG9zLWhtYWMtdGVzdC1rZXk"

/* ---- a sink that keeps every line, optionally slow or failing ----------- */

struct record {
    char **lines;
    size_t n, cap;
    size_t batches;       /* write_lines calls */
    size_t count;         /* = n, but read while the signing thread writes */
};

struct test_sink {
    struct event_sink base;
    struct record *rec;   /* outlives the sink (the bus frees the sink) */
    size_t fail_from;     /* 0: never; else fail the fail_from-th line and all after */
    unsigned delay_us;    /* sleep this long on every 7th line */
    bool freed;
};

static void record_line(struct record *r, const char *line, size_t len)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->lines = xrealloc(r->lines, r->cap * sizeof(*r->lines));
    }
    r->lines[r->n] = xcalloc(1, len + 1);
    memcpy(r->lines[r->n++], line, len);
    __atomic_store_n(&r->count, r->n, __ATOMIC_RELEASE);
}

static void record_free(struct record *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->lines[i]);
    free(r->lines);
    memset(r, 0, sizeof(*r));
}

static int test_write(struct event_sink *self, const char *line, size_t len, struct cell_err *err)
{
    struct test_sink *s = (struct test_sink *)self;
    if (s->fail_from && s->rec->n + 1 >= s->fail_from)
        return cell_err_set(err, ENOSPC, "sink_failed", "sink full: test sink");
    if (s->delay_us && s->rec->n % 7 == 0) {
        struct timespec ts = { 0, (long)s->delay_us * 1000 };
        nanosleep(&ts, NULL);
    }
    record_line(s->rec, line, len);
    return 0;
}

static int test_write_lines(struct event_sink *self, const struct iovec *lines, size_t n,
                            struct cell_err *err)
{
    struct test_sink *s = (struct test_sink *)self;
    s->rec->batches++;
    for (size_t i = 0; i < n; i++) {
        int r = test_write(self, lines[i].iov_base, lines[i].iov_len, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static void test_free(struct event_sink *self)
{
    free(self);
}

static struct event_sink *test_sink_new(struct record *rec, bool batches, size_t fail_from,
                                        unsigned delay_us)
{
    struct test_sink *s = xcalloc(1, sizeof(*s));
    s->base = (struct event_sink){ .name = "test", .write = test_write,
                                   .write_lines = batches ? test_write_lines : NULL,
                                   .free = test_free };
    s->rec = rec;
    s->fail_from = fail_from;
    s->delay_us = delay_us;
    return &s->base;
}

/* ---- helpers ------------------------------------------------------------ */

static void bus_open(struct event_bus *bus, const char *alg)
{
    event_bus_init(bus);
    event_ctx_init(&bus->ctx, "cell-\"quoted\"", NULL);
    struct cell_err err = { 0 };
    if (alg && signer_new(alg, "k1", strcmp(alg, "hmac") == 0 ? HMAC_KEY : SEED, &bus->signer,
                          &err) < 0)
        printf("# signer_new: %s\n", err.msg);
}

static json_t *dns_data(unsigned i)
{
    char name[64];
    snprintf(name, sizeof(name), "host%u.example.com", i);
    return json_pack("{s:s, s:s, s:s, s:i}", "queryName", name, "queryType", "A",
                     "decision", "allow", "responseRcode", 0);
}

static json_t *destroyed_data(void)
{
    return json_pack("{s:s, s:s, s:[]}", "outcome", "succeeded", "terminalState", "clean",
                     "residue");
}

/* count dns_query events then destroyed. */
static void emit_run(struct event_bus *bus, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        event_bus_emit(bus, EV_DNS_QUERY, dns_data(i));
    event_bus_emit(bus, EV_LIFECYCLE_DESTROYED, destroyed_data());
}

static struct verify_keys *test_keys(void)
{
    struct signer *s = NULL;
    struct cell_err err;
    signer_new("ed25519", "k1", SEED, &s, &err);
    char pk[SIGN_PUBKEY_B64_LEN] = "";
    signer_public_key(s, pk);
    signer_free(s);
    _cleanup_free_ char *text = xasprintf("{\"k1\": \"%s\", \"h1\": {\"alg\": \"hmac\", "
                                          "\"key\": \"" HMAC_KEY "\"}}", pk);
    struct verify_keys *keys = NULL;
    verify_keys_parse(text, strlen(text), &keys, &err);
    return keys;
}

/* Verify recorded lines (kid k1 for both algorithms: HMAC keys are looked
 * up under h1, so HMAC streams use a keys file of their own). */
static enum verify_verdict verify_record(const struct record *r, const char *keys_json,
                                         struct verify_summary *sum)
{
    struct verify_keys *keys = NULL;
    struct cell_err err;
    if (keys_json)
        verify_keys_parse(keys_json, strlen(keys_json), &keys, &err);
    else
        keys = test_keys();
    struct verifier *v = verifier_new(keys, NULL, NULL);
    for (size_t i = 0; i < r->n; i++) {
        size_t len = strlen(r->lines[i]);
        verifier_feed_line(v, r->lines[i], len && r->lines[i][len - 1] == '\n' ? len - 1 : len);
    }
    verifier_finish(v);
    enum verify_verdict verdict = verifier_verdict(v);
    size_t n;
    const struct verify_finding *f = verifier_findings(v, &n);
    if (n)
        printf("# first finding: line %lu: %s\n", f[0].lineno, f[0].message);
    verifier_summary(v, sum);
    verifier_free(v);
    verify_keys_free(keys);
    return verdict;
}

static int64_t seq_of(const char *line)
{
    json_t *ev = json_loads(line, 0, NULL);
    json_int_t seq = json_integer_value(json_object_get(json_object_get(ev, "data"), "seq"));
    json_decref(ev);
    return seq;
}

static const char *inner_type(const char *line, char *out, size_t cap)
{
    json_t *ev = json_loads(line, 0, NULL);
    json_t *inner = json_object_get(json_object_get(ev, "data"), "event");
    snprintf(out, cap, "%s", json_string_value(json_object_get(inner, "type")));
    json_decref(ev);
    return out;
}

/* ---- tests ---------------------------------------------------------------- */

TEST(signed_stream_verifies_in_order)
{
    static const struct { const char *alg; bool batches; unsigned delay; } cases[] = {
        { "ed25519", true, 0 }, { "ed25519", false, 0 }, { "ed25519", true, 200 },
        { "hmac", true, 0 }, { "hmac", false, 50 },
    };
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        struct record rec = { 0 };
        struct event_bus bus;
        bus_open(&bus, cases[c].alg);
        event_bus_add_sink(&bus, test_sink_new(&rec, cases[c].batches, 0, cases[c].delay));
        emit_run(&bus, 700);
        is_int(event_bus_flush(&bus), 0, "case %zu: flushed", c);
        ok(!bus.failed, "case %zu: no failure", c);
        event_bus_close(&bus);
        is_int(rec.n, 701, "case %zu: every event written", c);
        bool in_order = true;
        for (size_t i = 0; i < rec.n; i++)
            in_order = in_order && seq_of(rec.lines[i]) == (int64_t)i;
        ok(in_order, "case %zu: seq 0..700 in order", c);
        struct verify_summary sum;
        const char *hmac_keys = "{\"k1\": {\"alg\": \"hmac\", \"key\": \"" HMAC_KEY "\"}}";
        is_int(verify_record(&rec, strcmp(cases[c].alg, "hmac") == 0 ? hmac_keys : NULL, &sum),
               VERIFY_VERDICT_OK, "case %zu: verifies", c);
        is_int(sum.runs_sealed, 1, "case %zu: sealed by destroyed", c);
        record_free(&rec);
    }
}

/* The line holds the signed bytes verbatim: data minus its signature. */
TEST(line_carries_the_signed_bytes)
{
    struct record rec = { 0 };
    struct event_bus bus;
    bus_open(&bus, "ed25519");
    event_bus_add_sink(&bus, test_sink_new(&rec, true, 0, 0));
    emit_run(&bus, 3);
    event_bus_close(&bus);
    for (size_t i = 0; i < rec.n; i++) {
        json_t *ev = json_loads(rec.lines[i], 0, NULL);
        struct buf canon = BUF_INIT;
        sign_signed_bytes(json_object_get(ev, "data"), &canon, NULL);
        canon.data[canon.len - 1] = '\0';       /* the text before "signature" */
        const char *at = strstr(rec.lines[i], "\"data\":");
        ok(at && strncmp(at + 7, canon.data, canon.len - 1) == 0, "line %zu: verbatim", i);
        is_str(json_string_value(json_object_get(ev, "subject")), "urn:cellos:cell:cell-\"quoted\"",
               "line %zu: subject escaped", i);
        buf_free(&canon);
        json_decref(ev);
    }
    record_free(&rec);
}

/* close() without flush() still writes everything queued, in order. */
TEST(close_writes_what_is_queued)
{
    struct record rec = { 0 };
    struct event_bus bus;
    bus_open(&bus, "ed25519");
    event_bus_add_sink(&bus, test_sink_new(&rec, true, 0, 100));
    emit_run(&bus, 300);
    event_bus_close(&bus);
    is_int(rec.n, 301, "all written");
    char type[128];
    is_str(inner_type(rec.lines[rec.n - 1], type, sizeof(type)),
           EVENT_TYPE_PREFIX "lifecycle.v1.destroyed", "destroyed is last");
    record_free(&rec);
}

/* A failing sink fails the run; the other sink still gets every event; the
 * destroyed event says so even when its caller had not seen the failure. */
TEST(sink_failure_reported_and_destroyed_told)
{
    struct record good = { 0 }, bad = { 0 };
    struct event_bus bus;
    bus_open(&bus, "ed25519");
    event_bus_add_sink(&bus, test_sink_new(&bad, true, 150, 0));
    event_bus_add_sink(&bus, test_sink_new(&good, false, 0, 0));
    for (unsigned i = 0; i < 200; i++)
        event_bus_emit(&bus, EV_DNS_QUERY, dns_data(i));
    /* What the supervisor does: build destroyed from what it knows now. */
    json_t *d = destroyed_data();
    if (bus.failed) {
        json_object_set_new(d, "outcome", json_string("failed"));
        json_object_set_new(d, "sinkError", json_string(bus.failure.msg));
    }
    event_bus_emit(&bus, EV_LIFECYCLE_DESTROYED, d);
    event_bus_flush(&bus);
    ok(bus.failed, "run failed");
    ok(strstr(bus.failure.msg, "sink full") != NULL, "message: %s", bus.failure.msg);
    is_int(bad.n, 149, "the full sink took what fit");
    is_int(good.n, 201, "the other sink got everything");
    json_t *last = json_loads(good.lines[200], 0, NULL);
    json_t *data = json_object_get(json_object_get(json_object_get(last, "data"), "event"), "data");
    is_str(json_string_value(json_object_get(data, "outcome")), "failed", "destroyed: failed");
    ok(strstr(json_string_value(json_object_get(data, "sinkError")) ?: "", "sink full") != NULL,
       "destroyed: sinkError");
    json_decref(last);
    event_bus_close(&bus);
    struct verify_summary sum;
    is_int(verify_record(&good, NULL, &sum), VERIFY_VERDICT_OK, "the good sink's stream verifies");
    record_free(&good);
    record_free(&bad);
}

/* A full disk through the real JSONL sink: "sink full", a failed run. */
TEST(jsonl_on_a_full_disk)
{
    struct event_sink *sink = NULL;
    struct cell_err err;
    if (sink_jsonl_open("/dev/full", &sink, &err) < 0)
        skip_test("no /dev/full");
    struct event_bus bus;
    bus_open(&bus, "ed25519");
    event_bus_add_sink(&bus, sink);
    emit_run(&bus, 20);
    event_bus_flush(&bus);
    ok(bus.failed, "failed");
    ok(strstr(bus.failure.msg, "sink full") != NULL, "message: %s", bus.failure.msg);
    event_bus_close(&bus);
}

/* The real JSONL sink: batches land whole and in order. */
TEST(jsonl_file_verifies)
{
    char path[] = "/tmp/test-signer-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    struct event_sink *sink = NULL;
    struct cell_err err;
    is_int(sink_jsonl_open(path, &sink, &err), 0, "open");
    struct event_bus bus;
    bus_open(&bus, "ed25519");
    event_bus_add_sink(&bus, sink);
    emit_run(&bus, 2000);
    event_bus_flush(&bus);
    ok(!bus.failed, "no failure");
    event_bus_close(&bus);
    struct verify_keys *keys = test_keys();
    struct verifier *v = verifier_new(keys, NULL, NULL);
    FILE *in = fopen(path, "r");
    is_int(verifier_feed_file(v, in, &err), 0, "read");
    fclose(in);
    verifier_finish(v);
    struct verify_summary sum;
    verifier_summary(v, &sum);
    is_int(verifier_verdict(v), VERIFY_VERDICT_OK, "verifies");
    is_int(sum.envelopes, 2001, "2001 envelopes");
    verifier_free(v);
    verify_keys_free(keys);
    unlink(path);
}

/* An event that cannot be canonicalized is dropped without moving the
 * chain; the run fails; the stream stays verifiable. */
TEST(bad_event_fails_run_chain_intact)
{
    struct record rec = { 0 };
    struct event_bus bus;
    bus_open(&bus, "ed25519");
    event_bus_add_sink(&bus, test_sink_new(&rec, true, 0, 0));
    event_bus_emit(&bus, EV_DNS_QUERY, dns_data(0));
    json_t *bad = json_object();
    json_object_set_new(bad, "queryName", json_string_nocheck("\xff"));
    ok(event_bus_emit(&bus, EV_DNS_QUERY, bad) < 0, "refused");
    ok(bus.failed, "run failed");
    emit_run(&bus, 2);
    event_bus_close(&bus);
    is_int(rec.n, 4, "the others written");
    struct verify_summary sum;
    is_int(verify_record(&rec, NULL, &sum), VERIFY_VERDICT_OK, "no gap in the chain");
    record_free(&rec);
}

/* A sink added mid-run gets the events from then on. */
TEST(sink_added_mid_run)
{
    struct record first = { 0 }, second = { 0 };
    struct event_bus bus;
    bus_open(&bus, "hmac");
    event_bus_add_sink(&bus, test_sink_new(&first, true, 0, 0));
    for (unsigned i = 0; i < 50; i++)
        event_bus_emit(&bus, EV_DNS_QUERY, dns_data(i));
    event_bus_add_sink(&bus, test_sink_new(&second, true, 0, 0));
    emit_run(&bus, 10);
    event_bus_close(&bus);
    is_int(first.n, 61, "first: all");
    is_int(second.n, 11, "second: from then on");
    is_int(seq_of(second.lines[0]), 50, "second starts at seq 50");
    record_free(&first);
    record_free(&second);
}

/* An event on its own is written soon after emit returns, without a later
 * emit or a flush to push it out (the supervisor may then sit in its loop
 * for hours). */
TEST(lone_event_written_promptly)
{
    struct record rec = { 0 };
    struct event_bus bus;
    bus_open(&bus, "ed25519");
    event_bus_add_sink(&bus, test_sink_new(&rec, true, 0, 0));
    for (unsigned i = 0; i < 3; i++) {
        event_bus_emit(&bus, EV_DNS_QUERY, dns_data(i));
        size_t seen = 0;
        for (int wait = 0; wait < 2000 && seen < i + 1; wait++) {   /* up to 2 s */
            struct timespec ms = { 0, 1000000 };
            nanosleep(&ms, NULL);
            seen = __atomic_load_n(&rec.count, __ATOMIC_ACQUIRE);
        }
        is_int(seen, i + 1, "event %u on the sink without a flush", i);
    }
    event_bus_close(&bus);
    record_free(&rec);
}

/* Unsigned events are written before emit returns. */
TEST(unsigned_is_synchronous)
{
    struct record rec = { 0 };
    struct event_bus bus;
    bus_open(&bus, NULL);
    event_bus_add_sink(&bus, test_sink_new(&rec, true, 0, 0));
    for (unsigned i = 0; i < 5; i++) {
        event_bus_emit(&bus, EV_DNS_QUERY, dns_data(i));
        is_int(rec.n, i + 1, "event %u written at once", i);
    }
    event_bus_close(&bus);
    record_free(&rec);
}

/* event_canon writes exactly the canonical JSON of event_build's event. */
static void check_event_canon(struct event_ctx *ctx, const char *what)
{
    for (int t = EV_LIFECYCLE_STARTED; t <= EV_LIFECYCLE_DESTROYED; t++) {
        json_t *data = json_pack("{s:s, s:s, s:i, s:f, s:[s,n]}", "cellId", "override attempt",
                                 "\xee\x80\x80k", "v\"\x01\x7f", "n", t, "x", 0.1 * t + 0.05, "\xf0\x9f\x98\x80",
                                 "a");
        json_t *built = event_build(ctx, (enum event_type)t, json_deep_copy(data));
        struct buf text = BUF_INIT, again = BUF_INIT;
        is_int(event_canon(ctx, (enum event_type)t, data, &text), 0, "%s %d: written", what, t);
        json_t *parsed = json_loads(text.data, 0, NULL);
        json_canon(parsed, &again, NULL);
        ok(again.len == text.len && memcmp(again.data, text.data, text.len) == 0,
           "%s %d: canonical", what, t);
        json_object_set(built, "id", json_object_get(parsed, "id"));
        json_object_set(built, "time", json_object_get(parsed, "time"));
        ok(json_equal(built, parsed), "%s %d: the event event_build makes", what, t);
        json_decref(built);
        json_decref(parsed);
        buf_free(&text);
        buf_free(&again);
    }
}

TEST(event_canon_equals_built_event)
{
    struct event_ctx ctx;
    event_ctx_init(&ctx, "cell \"x\" \xc3\xa9\x7f/", "corr-\xf0\x9f\x98\x80");
    check_event_canon(&ctx, "escaped");
    free(ctx.source);
    ctx.source = xstrdup("urn:cellos:host:\xff");   /* not UTF-8: the general path */
    free(ctx.canon_source);
    ctx.canon_source = NULL;
    check_event_canon(&ctx, "fallback");
    event_ctx_clear(&ctx);
}

/* Event ids: version 4, distinct. */
TEST(event_ids)
{
    enum { N = 3000 };
    static char ids[N][EVENT_ID_URN_LEN];
    for (size_t i = 0; i < N; i++)
        event_id_urn(ids[i]);
    bool shaped = true, distinct = true;
    for (size_t i = 0; i < N; i++) {
        const char *u = ids[i] + strlen(EVENT_ID_PREFIX);
        shaped = shaped && str_has_prefix(ids[i], EVENT_ID_PREFIX) && strlen(u) == 36 &&
                 u[8] == '-' && u[13] == '-' && u[14] == '4' && u[18] == '-' &&
                 strchr("89ab", u[19]) && u[23] == '-';
        for (size_t j = 0; j < i && distinct; j++)
            distinct = strcmp(ids[i], ids[j]) != 0;
    }
    ok(shaped, "urn:cellos:event:<uuid v4>");
    ok(distinct, "all distinct");
}

TAP_MAIN
