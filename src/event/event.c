#include "event.h"

#include <string.h>

#include "base/strtab.h"
#include "base/timeutil.h"

static const struct strtab_entry event_types[] = {
    { EV_LIFECYCLE_STARTED, EVENT_TYPE_PREFIX "lifecycle.v1.started" },
    { EV_COMMAND_COMPLETED, EVENT_TYPE_PREFIX "command.v1.completed" },
    { EV_COMMAND_FAILED, EVENT_TYPE_PREFIX "command.v1.failed" },
    { EV_NETWORK_ENFORCEMENT, EVENT_TYPE_PREFIX "observability.v1.network_enforcement" },
    { EV_DNS_QUERY, EVENT_TYPE_PREFIX "observability.v1.dns_query" },
    { EV_L7_EGRESS_DECISION, EVENT_TYPE_PREFIX "observability.v1.l7_egress_decision" },
    { EV_NETWORK_FLOW_DECISION, EVENT_TYPE_PREFIX "observability.v1.network_flow_decision" },
    { EV_EXPORT_COMPLETED, EVENT_TYPE_PREFIX "export.v2.completed" },
    { EV_EXPORT_FAILED, EVENT_TYPE_PREFIX "export.v2.failed" },
    { EV_LIFECYCLE_DESTROYED, EVENT_TYPE_PREFIX "lifecycle.v1.destroyed" },
};

const char *event_type_name(enum event_type type)
{
    return strtab_name(event_types, ARRAY_SIZE(event_types), (int)type);
}

int event_ctx_init(struct event_ctx *ctx, const char *cell_id, const char *correlation_id)
{
    char host[256] = "localhost";
    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = '\0';
    ctx->source = xasprintf("urn:cellos:host:%s", host);
    ctx->cell_id = xstrdup(cell_id);
    ctx->correlation_id = xstrdup(correlation_id);
    uuid_v4(ctx->run_id);
    return 0;
}

void event_ctx_clear(struct event_ctx *ctx)
{
    free(ctx->source);
    free(ctx->cell_id);
    free(ctx->correlation_id);
    memset(ctx, 0, sizeof(*ctx));
}

static json_t *common_data(const struct event_ctx *ctx, json_t *data)
{
    json_t *d = json_object();
    json_object_set_new(d, "cellId", json_string(ctx->cell_id));
    json_object_set_new(d, "specId", json_string(ctx->cell_id));
    json_object_set_new(d, "runId", json_string(ctx->run_id));
    if (ctx->correlation_id)
        json_object_set_new(d, "correlationId", json_string(ctx->correlation_id));
    if (data) {
        /* The type-specific fields follow the common ones; they never
         * override them. */
        const char *key;
        json_t *value;
        json_object_foreach(data, key, value)
            if (!json_object_get(d, key))
                json_object_set(d, key, value);
        json_decref(data);
    }
    return d;
}

json_t *event_envelope_new(const struct event_ctx *ctx, const char *type)
{
    char uuid[UUID_STR_LEN], now[32];
    uuid_v4(uuid);
    now_rfc3339(now);
    json_t *ev = json_object();
    json_object_set_new(ev, "specversion", json_string("1.0"));
    json_object_set_new(ev, "id", json_sprintf("urn:cellos:event:%s", uuid));
    json_object_set_new(ev, "source", json_string(ctx->source));
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "time", json_string(now));
    json_object_set_new(ev, "datacontenttype", json_string("application/json"));
    json_object_set_new(ev, "subject", json_sprintf("urn:cellos:cell:%s", ctx->cell_id));
    return ev;
}

json_t *event_build(const struct event_ctx *ctx, enum event_type type, json_t *data)
{
    json_t *ev = event_envelope_new(ctx, event_type_name(type));
    json_object_set_new(ev, "data", common_data(ctx, data));
    return ev;
}
