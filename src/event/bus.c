#include <string.h>

#include "base/log.h"
#include "event.h"
#include "sign.h"
#include "signer.h"

void event_bus_init(struct event_bus *bus)
{
    memset(bus, 0, sizeof(*bus));
}

void event_bus_add_sink(struct event_bus *bus, struct event_sink *sink)
{
    if (bus->n_sinks == EVENT_BUS_MAX_SINKS) {
        sink->free(sink);
        return;
    }
    bus->sinks[bus->n_sinks++] = sink;
    if (bus->pipeline)
        sign_pipeline_set_sinks(bus->pipeline, bus->sinks, bus->n_sinks);
}

static void record_failure(struct event_bus *bus, const struct cell_err *err)
{
    if (bus->failed)
        return;
    bus->failed = true;
    bus->failure = *err;
    log_error("%s", err->msg);
}

/* A failure the signing thread met since we last looked. */
static void collect_failure(struct event_bus *bus)
{
    struct cell_err err;
    if (bus->pipeline && sign_pipeline_take_failure(bus->pipeline, &err))
        record_failure(bus, &err);
}

/* Serialize once; every sink gets the same bytes. */
static char *serialize_line(json_t *ev, size_t *len)
{
    char *text = json_dumps(ev, JSON_COMPACT);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    text = xrealloc(text, n + 2);
    text[n] = '\n';
    text[n + 1] = '\0';
    *len = n + 1;
    return text;
}

/* Unsigned: written to every sink before returning. */
static int emit_plain(struct event_bus *bus, enum event_type type, json_t *ev)
{
    size_t len = 0;
    _cleanup_free_ char *line = serialize_line(ev, &len);
    if (!line)
        return -ENOMEM;
    if (len > EVENT_MAX_BYTES) {
        struct cell_err err;
        cell_err_set(&err, EMSGSIZE, "sink_failed", "event %s is %zu bytes, over the 1 MiB limit",
                     event_type_name(type), len);
        record_failure(bus, &err);
        return -EMSGSIZE;
    }
    int result = 0;
    for (size_t i = 0; i < bus->n_sinks; i++) {
        struct cell_err err = { 0 };
        int r = bus->sinks[i]->write(bus->sinks[i], line, len, &err);
        if (r < 0) {
            record_failure(bus, &err);
            result = r;
        }
    }
    return result;
}

/* Signed: with a signer, the plain event travels inside a
 * dev.cellos.events.signed.v1 CloudEvent whose data is the signed envelope
 * (CONTRACT section 5), signed and written by the pipeline (signer.h). A
 * failure to sign drops the event and fails the run: never an unsigned event
 * in a signed stream. */
static int emit_signed(struct event_bus *bus, enum event_type type, json_t *data)
{
    if (!bus->pipeline)
        bus->pipeline = sign_pipeline_new(bus->signer, &bus->ctx, bus->sinks, bus->n_sinks);
    struct cell_err err;
    int r = sign_pipeline_push(bus->pipeline, type, data, &err);
    if (r < 0)
        record_failure(bus, &err);
    collect_failure(bus);
    return r;
}

/* The destroyed event tells whether the run succeeded, and a sink failure
 * fails it. Its caller may not have seen a failure the signing thread met
 * on the last events: wait for them, and say it here as the caller would
 * have (outcome "failed" and the sinkError). */
static json_t *destroyed_with_late_failure(struct event_bus *bus, json_t *data)
{
    bool known = bus->failed;
    event_bus_sync(bus);
    if (known || !bus->failed || !json_is_object(data) || json_object_get(data, "sinkError"))
        return data;
    json_object_set_new(data, "outcome", json_string("failed"));
    json_object_set_new(data, "sinkError", json_string(bus->failure.msg));
    return data;
}

int event_bus_emit(struct event_bus *bus, enum event_type type, json_t *data)
{
    if (bus->signer && type == EV_LIFECYCLE_DESTROYED)
        data = destroyed_with_late_failure(bus, data);
    int r;
    if (bus->signer) {
        r = emit_signed(bus, type, data);
    } else {
        json_t *ev = event_build(&bus->ctx, type, data);
        r = emit_plain(bus, type, ev);
        json_decref(ev);
    }
    bus->emitted++;
    return r;
}

int event_bus_sync(struct event_bus *bus)
{
    if (bus->pipeline) {
        sign_pipeline_drain(bus->pipeline);
        collect_failure(bus);
    }
    return bus->failed ? -(bus->failure.errnum ? bus->failure.errnum : EIO) : 0;
}

int event_bus_flush(struct event_bus *bus)
{
    event_bus_sync(bus);
    int result = 0;
    for (size_t i = 0; i < bus->n_sinks; i++) {
        if (!bus->sinks[i]->flush)
            continue;
        struct cell_err err = { 0 };
        int r = bus->sinks[i]->flush(bus->sinks[i], &err);
        if (r < 0) {
            record_failure(bus, &err);
            result = r;
        }
    }
    return result;
}

void event_bus_close(struct event_bus *bus)
{
    /* Whatever is still queued is written before the sinks go. */
    event_bus_sync(bus);
    sign_pipeline_free(bus->pipeline);
    bus->pipeline = NULL;
    for (size_t i = 0; i < bus->n_sinks; i++)
        bus->sinks[i]->free(bus->sinks[i]);
    bus->n_sinks = 0;
    signer_free(bus->signer);
    bus->signer = NULL;
    event_ctx_clear(&bus->ctx);
}
