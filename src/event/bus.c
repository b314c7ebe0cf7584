#include <string.h>

#include "base/log.h"
#include "event.h"
#include "sign.h"

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
}

static void record_failure(struct event_bus *bus, const struct cell_err *err)
{
    if (bus->failed)
        return;
    bus->failed = true;
    bus->failure = *err;
    log_error("%s", err->msg);
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

static json_t *maybe_sign(struct event_bus *bus, json_t *ev);

int event_bus_emit(struct event_bus *bus, enum event_type type, json_t *data)
{
    json_t *ev = event_build(&bus->ctx, type, data);
    ev = maybe_sign(bus, ev);
    if (!ev)
        return -EIO;
    size_t len = 0;
    _cleanup_free_ char *line = serialize_line(ev, &len);
    json_decref(ev);
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
    bus->emitted++;
    return result;
}

int event_bus_flush(struct event_bus *bus)
{
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
    for (size_t i = 0; i < bus->n_sinks; i++)
        bus->sinks[i]->free(bus->sinks[i]);
    bus->n_sinks = 0;
    signer_free(bus->signer);
    bus->signer = NULL;
    event_ctx_clear(&bus->ctx);
}

/* With a signer, the plain event travels inside a dev.cellos.events.signed.v1
 * CloudEvent whose data is the signed envelope (CONTRACT section 5). A
 * failure to sign drops the event and fails the run: never an unsigned
 * event in a signed stream. */
static json_t *maybe_sign(struct event_bus *bus, json_t *ev)
{
    if (!bus->signer)
        return ev;
    json_t *envelope = NULL;
    int r = signer_wrap(bus->signer, ev, &envelope);
    json_decref(ev);
    if (r < 0) {
        struct cell_err err;
        cell_err_set(&err, -r, "sink_failed", "cannot sign an event: %s", strerror(-r));
        record_failure(bus, &err);
        return NULL;
    }
    json_t *outer = event_envelope_new(&bus->ctx, SIGNED_EVENT_TYPE);
    json_object_set_new(outer, "data", envelope);
    return outer;
}
