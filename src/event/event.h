/* event.h: CloudEvents 1.0 envelopes for every step of a cell (CONTRACT
 * section 5) and the bus that hands each serialized line to the sinks.
 *
 * Building is pure (json_t in, json_t out); the bus serializes each event
 * once, optionally wraps it in a signed envelope, and writes the same bytes to
 * every sink. Only supervisor/ and cli/ emit events. */
#pragma once
#include <jansson.h>
#include <sys/uio.h>

#include "base/base.h"
#include "base/buf.h"
#include "base/uuid.h"

#define EVENT_MAX_BYTES (1u << 20) /* CONTRACT: at most 1 MiB per event */
#define EVENT_TYPE_PREFIX "dev.cellos.events.cell."
#define EVENT_TYPE_SIGNED "dev.cellos.events.signed.v1"

enum event_type {
    EV_LIFECYCLE_STARTED,
    EV_COMMAND_COMPLETED,
    EV_COMMAND_FAILED,
    EV_NETWORK_ENFORCEMENT,
    EV_DNS_QUERY,
    EV_L7_EGRESS_DECISION,
    EV_NETWORK_FLOW_DECISION,
    EV_EXPORT_COMPLETED,
    EV_EXPORT_FAILED,
    EV_LIFECYCLE_DESTROYED,
};

/* The full CloudEvent type, e.g. "dev.cellos.events.cell.lifecycle.v1.started". */
const char *event_type_name(enum event_type type);

/* What every event of one run shares. */
struct event_ctx {
    char *source;            /* urn:cellos:host:<hostname> */
    char *cell_id;           /* = spec.id */
    char *correlation_id;    /* NULL when the spec has none */
    char run_id[UUID_STR_LEN];
    /* source and subject as canonical JSON strings (event_canon), NULL when
     * JSON cannot carry them. */
    char *canon_source, *canon_subject;
};

int event_ctx_init(struct event_ctx *ctx, const char *cell_id, const char *correlation_id);
void event_ctx_clear(struct event_ctx *ctx);

/* A fresh event id, "urn:cellos:event:<uuid v4>" (the kernel's CSPRNG,
 * drawn in batches: see event.c). */
#define EVENT_ID_PREFIX "urn:cellos:event:"
#define EVENT_ID_URN_LEN (sizeof(EVENT_ID_PREFIX) - 1 + UUID_STR_LEN)
void event_id_urn(char out[EVENT_ID_URN_LEN]);

/* The CloudEvents envelope fields (specversion, id, source, type, time,
 * datacontenttype, subject) without data. */
json_t *event_envelope_new(const struct event_ctx *ctx, const char *type);

/* A complete CloudEvent: envelope fields plus data with the common fields
 * (cellId, specId, runId, correlationId) merged in. Steals `data` (NULL means
 * no extra fields). */
json_t *event_build(const struct event_ctx *ctx, enum event_type type, json_t *data);

/* Append the RFC 8785 canonical JSON of event_build(ctx, type, data) to out
 * (with its own fresh id and time), without building the envelope as JSON
 * values: what a signed envelope embeds. Steals data. -EINVAL (out as it
 * was) when data cannot be canonicalized. */
int event_canon(const struct event_ctx *ctx, enum event_type type, json_t *data, struct buf *out);

/* A sink receives each event as one complete JSON line (with '\n'). */
struct event_sink {
    const char *name;
    int (*write)(struct event_sink *self, const char *line, size_t len, struct cell_err *err);
    /* Optional: several consecutive lines at once, all or none (the signing
     * thread writes what it has ready in one go). NULL: one write() each. */
    int (*write_lines)(struct event_sink *self, const struct iovec *lines, size_t n,
                       struct cell_err *err);
    /* Called once at the end of the run: flush what is buffered. */
    int (*flush)(struct event_sink *self, struct cell_err *err);
    void (*free)(struct event_sink *self);
};

/* JSONL file sink: O_APPEND, one write() per event, space reserved before the
 * write so a full disk yields "sink full" and never a torn line. */
int sink_jsonl_open(const char *path, struct event_sink **out, struct cell_err *err);

/* NATS JetStream primary sink (CELLOS_NATS_URL). Unreachable at open (or
 * no stream for the subject): an error; the caller decides between a
 * warning and a refusal (CELL_OS_REQUIRE_JETSTREAM). Once open, outages are
 * buffered until the server is back. */
struct nats_sink_config {
    const char *url;
    const char *subject;        /* placeholders already substituted */
    bool require;
    size_t buffer_events;       /* 0: 10000 */
    uint64_t flush_timeout_ms;  /* 0: 15000: how long the end of a run waits for acks */
};
int sink_nats_open(const struct nats_sink_config *cfg, struct event_sink **out,
                   struct cell_err *err);

struct signer; /* event/sign.h */
struct sign_pipeline; /* event/signer.h */

#define EVENT_BUS_MAX_SINKS 4

struct event_bus {
    struct event_ctx ctx;
    struct event_sink *sinks[EVENT_BUS_MAX_SINKS];
    size_t n_sinks;
    struct signer *signer;   /* NULL: plain events; owned by the bus */
    /* First sink failure of the run: the run is then marked failed. With
     * signing on, the signing thread writes the events: a failure shows here
     * at the next emit, sync, flush or close (see event_bus_sync). */
    bool failed;
    struct cell_err failure;
    uint64_t emitted;
    struct sign_pipeline *pipeline;   /* with a signer: started by the first emit */
};

void event_bus_init(struct event_bus *bus);
/* Takes ownership of the sink. */
void event_bus_add_sink(struct event_bus *bus, struct event_sink *sink);
/* Build, optionally sign, serialize and write to every sink. Steals data.
 * A sink failure is recorded in bus->failed/failure (and logged once by the
 * caller); the event still goes to the other sinks.
 *
 * Unsigned, the event is written before this returns. Signed, it is
 * canonicalized, numbered and chained here, in emit order, and the signing
 * thread signs it and writes it to the sinks right after (docs/signing.md,
 * "Where signing runs"); the return value then only covers building. Before
 * a lifecycle.v1.destroyed event the bus waits for every earlier event to be
 * written, and when one of them failed the destroyed event says so (outcome
 * "failed", sinkError) even if the caller had not seen it yet. */
int event_bus_emit(struct event_bus *bus, enum event_type type, json_t *data);
/* Wait until every event emitted so far is written to every sink (signed
 * runs; immediate otherwise), so that bus->failed is exact. 0 or the first
 * sink failure's -errno. */
int event_bus_sync(struct event_bus *bus);
/* event_bus_sync, then the sinks' own flush (fdatasync, NATS acks). */
int event_bus_flush(struct event_bus *bus);
/* Writes whatever is still pending, stops the signing thread, frees all. */
void event_bus_close(struct event_bus *bus);

/* `cellos events FILE`: a readable timeline. */
int cmd_events(int argc, char **argv);
