/* spec.c: spec_parse() ties the steps together: size bound, byte pre-scan
 * (duplicates, depth), jansson, then the table-driven validation. */
#include <string.h>

#include "spec/spec-internal.h"

/* jansson's message, made safe to print: it may quote input bytes. */
static void add_json_error(struct spec_errors *errs, const char *bytes, size_t len,
                           const json_error_t *jerr)
{
    size_t pos = jerr->position > 0 ? (size_t)jerr->position : 0;
    _cleanup_free_ char *path = spec_path_at_offset(bytes, len, pos);
    switch (json_error_code(jerr)) {
    case json_error_duplicate_key:
        spec_errors_add(errs, path, "duplicate key");
        return;
    case json_error_null_byte_in_key:
        spec_errors_add(errs, path, "key must not contain NUL");
        return;
    default:
        break;
    }
    char text[JSON_ERROR_TEXT_LENGTH];
    size_t i;
    for (i = 0; i + 1 < sizeof(text) && jerr->text[i]; i++) {
        unsigned char c = (unsigned char)jerr->text[i];
        text[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    text[i] = '\0';
    spec_errors_add(errs, path, "invalid JSON: %s (line %d, column %d)", text, jerr->line,
                    jerr->column);
}

static json_t *load_json(const char *bytes, size_t len, size_t prescan_errors,
                         struct spec_errors *errs)
{
    json_error_t jerr;
    json_t *root = json_loadb(bytes, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (root)
        return root;
    /* The pre-scan already named the duplicates and the depth crossing. */
    enum json_error_code code = json_error_code(&jerr);
    bool seen = code == json_error_duplicate_key || code == json_error_stack_overflow;
    if (!(prescan_errors && seen))
        add_json_error(errs, bytes, len, &jerr);
    return NULL;
}

int spec_parse(const char *bytes, size_t len, struct cell_spec **out, struct spec_errors *errs)
{
    *errs = (struct spec_errors){ 0 };
    if (len > SPEC_MAX_BYTES) {
        spec_errors_add(errs, SPEC_ROOT_PATH, "larger than %u bytes", SPEC_MAX_BYTES);
        return -EINVAL;
    }
    if (!bytes)
        bytes = "", len = 0;
    size_t found = spec_prescan(bytes, len, errs);
    json_t *root = load_json(bytes, len, found, errs);
    if (!root || found) {
        json_decref(root);
        return -EINVAL;
    }
    struct cell_spec *spec = xcalloc(1, sizeof(*spec));
    spec_validate_tree(root, spec, errs);
    json_decref(root);
    if (errs->n) {
        spec_free(spec);
        return -EINVAL;
    }
    *out = spec;
    return 0;
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void spec_free(struct cell_spec *spec)
{
    if (!spec)
        return;
    free(spec->api_version);
    free(spec->kind);
    free(spec->id);
    free(spec->correlation_id);
    free(spec->tenant_id);
    free_strv(spec->secret_refs, spec->n_secret_refs);
    for (size_t i = 0; i < spec->n_egress_rules && spec->egress_rules; i++)
        free(spec->egress_rules[i].host);
    free(spec->egress_rules);
    free_strv(spec->dns.hostname_allowlist, spec->dns.n_hostname_allowlist);
    for (size_t i = 0; i < spec->dns.n_resolvers && spec->dns.resolvers; i++) {
        free(spec->dns.resolvers[i].resolver_id);
        free(spec->dns.resolvers[i].endpoint);
    }
    free(spec->dns.resolvers);
    free(spec->dns.allowed_qtypes);
    free_strv(spec->run.argv, spec->run.argc);
    free(spec->run.working_directory);
    for (size_t i = 0; i < spec->n_artifacts && spec->artifacts; i++) {
        free(spec->artifacts[i].name);
        free(spec->artifacts[i].path);
    }
    free(spec->artifacts);
    free(spec);
}

uint64_t spec_effective_timeout_ms(const struct cell_spec *spec)
{
    uint64_t ttl_ms = spec->ttl_seconds * 1000;
    if (spec->run.has_timeout_ms && spec->run.timeout_ms < ttl_ms)
        return spec->run.timeout_ms;
    return ttl_ms;
}

const struct strtab_entry spec_net_protos[2] = {
    { NET_PROTO_TCP, "tcp" },
    { NET_PROTO_UDP, "udp" },
};
const struct strtab_entry spec_resolver_protos[2] = {
    { RESOLVER_DO53_UDP, "do53-udp" },
    { RESOLVER_DO53_TCP, "do53-tcp" },
};
const struct strtab_entry spec_secret_deliveries[2] = {
    { SECRET_DELIVERY_ENV, "env" },
    { SECRET_DELIVERY_RUNTIME_BROKER, "runtimeBroker" },
};

const char *net_proto_name(enum net_proto p)
{
    return strtab_name(spec_net_protos, ARRAY_SIZE(spec_net_protos), (int)p);
}

const char *resolver_proto_name(enum resolver_proto p)
{
    return strtab_name(spec_resolver_protos, ARRAY_SIZE(spec_resolver_protos), (int)p);
}

const char *secret_delivery_name(enum secret_delivery d)
{
    return strtab_name(spec_secret_deliveries, ARRAY_SIZE(spec_secret_deliveries), (int)d);
}
