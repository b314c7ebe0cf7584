#include <string.h>

#include "base/log.h"
#include "event.h"

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
    event_ctx_clear(&bus->ctx);
}

/* Signing is wired in by sign.c when present (issue 5); without a signer the
 * plain event is emitted. */
static json_t *maybe_sign(struct event_bus *bus, json_t *ev)
{
    (void)bus;
    return ev;
}
