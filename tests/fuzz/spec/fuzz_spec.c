/* fuzz_spec.c: spec_parse() on arbitrary bytes. Besides memory safety it
 * checks the contract of the result: success means no errors and a usable
 * spec; failure means at least one error, each with a non-empty path and
 * message and no raw control bytes (they reach a user's terminal). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/hostmatch.h"
#include "spec/spec.h"

static void check_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            abort();
}

/* What the spec accepted, the matcher compiles; every pattern admits a name
 * it describes (a literal itself, a wildcard "x." + its base). */
static void check_allowlist(const struct dns_authority *dns)
{
    struct cell_err err;
    struct hostmatch *hm = hostmatch_new((const char *const *)dns->hostname_allowlist,
                                         dns->n_hostname_allowlist, &err);
    if (!hm)
        abort();
    for (size_t i = 0; i < dns->n_hostname_allowlist; i++) {
        const char *p = dns->hostname_allowlist[i];
        if (p[0] == '*') {
            char name[300];
            int n = snprintf(name, sizeof(name), "x%s", p + 1);
            if (n < 0 || (size_t)n >= sizeof(name))
                abort();
            if (n <= HOSTMATCH_NAME_MAX + 1 && !hostmatch_allows(hm, name, (size_t)n))
                abort();
        } else if (!hostmatch_allows(hm, p, strlen(p))) {
            abort();
        }
    }
    hostmatch_free(hm);
}

static void check_success(const struct cell_spec *spec, const struct spec_errors *errs)
{
    if (errs->n != 0 || !spec || !spec->id || !spec->api_version || !spec->kind)
        abort();
    if (spec->ttl_seconds < 1 || spec->ttl_seconds > 604800)
        abort();
    if (spec->run.present && (spec->run.argc == 0 || !spec->run.argv[0] ||
                              spec->run.argv[spec->run.argc] != NULL))
        abort();
    uint64_t t = spec_effective_timeout_ms(spec);
    if (t == 0 || t > spec->ttl_seconds * 1000)
        abort();
    for (size_t i = 0; i < spec->n_egress_rules; i++)
        if (!spec->egress_rules[i].host || spec->egress_rules[i].port == 0)
            abort();
    for (size_t i = 0; i < spec->n_artifacts; i++)
        if (!spec->artifacts[i].name || strchr(spec->artifacts[i].name, '/'))
            abort();
    check_allowlist(&spec->dns);
}

static void check_failure(const struct cell_spec *spec, const struct spec_errors *errs)
{
    if (spec || errs->n == 0 || errs->n > SPEC_MAX_ERRORS + 1)
        abort();
    for (size_t i = 0; i < errs->n; i++) {
        const struct spec_error *e = &errs->items[i];
        if (!e->path || !e->path[0] || !e->message || !e->message[0])
            abort();
        check_printable(e->path);
        check_printable(e->message);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    int r = spec_parse((const char *)data, size, &spec, &errs);
    if (r == 0)
        check_success(spec, &errs);
    else if (r == -EINVAL)
        check_failure(spec, &errs);
    else
        abort();
    spec_free(spec);
    spec_errors_free(&errs);
    return 0;
}
