/* event_throughput: how many events per second the bus can write, plain and
 * signed, to a JSONL file and to NATS JetStream. Used by bench/events.py.
 *
 *   event_throughput SINK N [ALG]
 *     SINK  jsonl:PATH | nats:URL
 *     ALG   off | ed25519 | hmac
 * Emits N dns_query events and a closing lifecycle.v1.destroyed, so that a
 * signed output is a complete run `cellos verify` can check. The clock
 * stops after the flush: every event is written (and fdatasync'ed).
 * Prints: events=N seconds=S per_second=R [pubkey=<base64url>] */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event/event.h"
#include "event/sign.h"

static double clock_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static int open_sink(const char *spec, struct event_sink **out)
{
    struct cell_err err;
    int r;
    if (str_has_prefix(spec, "jsonl:")) {
        r = sink_jsonl_open(spec + 6, out, &err);
    } else if (str_has_prefix(spec, "nats:")) {
        struct nats_sink_config cfg = { .url = spec + 5, .subject = "cellos.events.bench",
                                        .require = true, .buffer_events = 1 << 20 };
        r = sink_nats_open(&cfg, out, &err);
    } else {
        fprintf(stderr, "unknown sink %s\n", spec);
        return -EINVAL;
    }
    if (r < 0)
        fprintf(stderr, "event_throughput: %s\n", err.msg);
    return r;
}

/* A dns_query-shaped event: the kind a busy cell emits most. */
static json_t *sample_data(unsigned i)
{
    char name[64];
    snprintf(name, sizeof(name), "host%u.api.example.com", i % 1000);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "queryName", name, "queryType", "A",
                     "decision", "allow", "reasonCode", "allowed_by_allowlist",
                     "upstreamResolverId", "resolver-test-001", "responseRcode", 0,
                     "transport", "udp");
}

int main(int argc, char **argv)
{
    if (argc < 3 || sodium_init() < 0) {
        fprintf(stderr, "usage: event_throughput jsonl:PATH|nats:URL N [off|ed25519|hmac]\n");
        return 2;
    }
    unsigned n = (unsigned)strtoul(argv[2], NULL, 10);
    const char *alg = argc > 3 ? argv[3] : "off";
    struct event_bus bus;
    event_bus_init(&bus);
    event_ctx_init(&bus.ctx, "bench-events", NULL);
    struct cell_err err;
    if (strcmp(alg, "off") != 0 &&
        signer_new(alg, "bench", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", &bus.signer, &err) < 0) {
        fprintf(stderr, "event_throughput: %s\n", err.msg);
        return 1;
    }
    struct event_sink *sink;
    if (open_sink(argv[1], &sink) < 0)
        return 1;
    event_bus_add_sink(&bus, sink);
    char pubkey[SIGN_PUBKEY_B64_LEN] = "";
    if (bus.signer)
        signer_public_key(bus.signer, pubkey);
    double start = now_s(), cpu_start = clock_s(CLOCK_PROCESS_CPUTIME_ID),
           main_start = clock_s(CLOCK_THREAD_CPUTIME_ID);
    for (unsigned i = 0; i + 1 < n; i++)
        event_bus_emit(&bus, EV_DNS_QUERY, sample_data(i));
    event_bus_emit(&bus, EV_LIFECYCLE_DESTROYED,
                   json_pack("{s:s, s:s, s:[]}", "outcome", "succeeded", "terminalState", "clean",
                             "residue"));
    double emitted = now_s();
    event_bus_sync(&bus);             /* every line written */
    double written = now_s();
    event_bus_flush(&bus);            /* and on disk */
    double seconds = now_s() - start;
    fprintf(stderr, "emit=%.3f write=%.3f flush=%.3f\n", emitted - start, written - emitted,
            seconds - (written - start));
    double main_cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - main_start;
    int failed = bus.failed;
    event_bus_close(&bus);   /* joins the signing thread: its CPU time is counted */
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    fprintf(stderr, "cpu_us_per_event: total=%.1f emitting_thread=%.1f\n", cpu / n * 1e6,
            main_cpu / n * 1e6);
    printf("events=%u seconds=%.3f per_second=%.0f%s%s\n", n, seconds, n / seconds,
           pubkey[0] ? " pubkey=" : "", pubkey);
    return failed ? 1 : 0;
}
