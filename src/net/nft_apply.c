/* nft_apply.c: run libnftables inside a cell's network namespace.
 *
 * The calling thread setns()es into the cell's netns, creates the libnftables
 * context there (its netlink socket belongs to the netns it was opened in),
 * runs one buffer, frees the context and setns()es back. No nft process, no
 * nsenter: one process, one transaction. */
#include <fcntl.h>
#include <jansson.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "net/netns.h"
#include "net/nft.h"

#define REASON "isolation_failed"

static void nft_ctx_freep(struct nft_ctx **ctx)
{
    if (*ctx)
        nft_ctx_free(*ctx);
}

/* A context with output and errors captured in buffers, not printed. */
static struct nft_ctx *buffered_ctx(bool json, struct cell_err *err)
{
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!ctx) {
        cell_err_set(err, ENOMEM, REASON, "nft: cannot create a libnftables context");
        return NULL;
    }
    if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0) {
        nft_ctx_free(ctx);
        cell_err_set(err, ENOMEM, REASON, "nft: cannot buffer libnftables output");
        return NULL;
    }
    if (json)
        nft_ctx_output_set_flags(ctx, nft_ctx_output_get_flags(ctx) | NFT_CTX_OUTPUT_JSON |
                                          NFT_CTX_OUTPUT_HANDLE);
    return ctx;
}

/* libnftables' message, on one line, for err->msg. */
static int fail_with_nft_error(struct nft_ctx *ctx, const char *what, struct cell_err *err)
{
    const char *e = nft_ctx_get_error_buffer(ctx);
    char line[400];
    size_t n = 0;
    for (; e && *e && n + 1 < sizeof(line); e++)
        line[n++] = (*e == '\n' || *e == '\t') ? ' ' : *e;
    while (n && line[n - 1] == ' ')
        n--;
    line[n] = '\0';
    return cell_err_set(err, EINVAL, REASON, "nft: %s: %s", what, n ? line : "failed");
}

struct apply_args { const char *text; };

static int apply_here(void *arg, struct cell_err *err)
{
    const struct apply_args *a = arg;
    _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = buffered_ctx(false, err);
    if (!ctx)
        return -ENOMEM;
    if (nft_run_cmd_from_buffer(ctx, a->text) != 0)
        return fail_with_nft_error(ctx, "apply ruleset", err);
    return 0;
}

/* The netprep helper exits right after this: freeing the context (about
 * 0.7 ms of libnftables teardown) would only delay the cell. */
int nft_apply_here(const char *ruleset_text, struct cell_err *err)
{
    if (!ruleset_text)
        return cell_err_set(err, EINVAL, REASON, "nft: no ruleset");
    struct nft_ctx *ctx = buffered_ctx(false, err);
    if (!ctx)
        return -ENOMEM;
    if (nft_run_cmd_from_buffer(ctx, ruleset_text) != 0)
        return fail_with_nft_error(ctx, "apply ruleset", err);
    return 0;
}

int nft_apply_in_netns(int netns_fd, const char *ruleset_text, struct cell_err *err)
{
    if (netns_fd < 0 || !ruleset_text)
        return cell_err_set(err, EINVAL, REASON, "nft: no netns or no ruleset");
    struct apply_args a = { ruleset_text };
    return netns_run(netns_fd, apply_here, &a, err);
}

/* ---- counters ---------------------------------------------------------------- */

struct counters_args {
    const char *table;
    char *json;          /* libnftables' JSON listing, copied out */
};

static int list_here(void *arg, struct cell_err *err)
{
    struct counters_args *a = arg;
    _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = buffered_ctx(true, err);
    if (!ctx)
        return -ENOMEM;
    _cleanup_free_ char *cmd = xasprintf("list table inet %s", a->table);
    if (nft_run_cmd_from_buffer(ctx, cmd) != 0)
        return fail_with_nft_error(ctx, "list table", err);
    const char *out = nft_ctx_get_output_buffer(ctx);
    a->json = xstrdup(out ? out : "");
    return 0;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* The counter expression of one rule's "expr" array, or NULL. */
static json_t *rule_counter(json_t *rule)
{
    json_t *expr = json_object_get(rule, "expr");
    size_t i;
    json_t *stmt;
    json_array_foreach(expr, i, stmt) {
        json_t *c = json_object_get(stmt, "counter");
        if (json_is_object(c))
            return c;
    }
    return NULL;
}

static size_t collect_counters(json_t *items, struct nft_rule_counter *out)
{
    size_t n = 0, i;
    json_t *item;
    json_array_foreach(items, i, item) {
        json_t *rule = json_object_get(item, "rule");
        json_t *counter = rule ? rule_counter(rule) : NULL;
        if (!counter)
            continue;
        struct nft_rule_counter *c = &out[n++];
        copy_str(c->chain, sizeof(c->chain), json_string_value(json_object_get(rule, "chain")));
        copy_str(c->comment, sizeof(c->comment),
                 json_string_value(json_object_get(rule, "comment")));
        c->handle = (uint64_t)json_integer_value(json_object_get(rule, "handle"));
        c->packets = (uint64_t)json_integer_value(json_object_get(counter, "packets"));
        c->bytes = (uint64_t)json_integer_value(json_object_get(counter, "bytes"));
    }
    return n;
}

int nft_read_counters(int netns_fd, const char *table, struct nft_rule_counter **out,
                      struct cell_err *err)
{
    if (netns_fd < 0 || !table || !*table)
        return cell_err_set(err, EINVAL, REASON, "nft: no netns or no table");
    struct counters_args a = { table, NULL };
    int rc = netns_run(netns_fd, list_here, &a, err);
    if (rc < 0)
        return rc;
    _cleanup_free_ char *text = a.json;

    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    json_t *items = json_object_get(root, "nftables");
    if (!json_is_array(items)) {
        json_decref(root);
        return cell_err_set(err, EPROTO, REASON, "nft: unexpected JSON listing: %s",
                            root ? "no nftables array" : jerr.text);
    }
    struct nft_rule_counter *list = xcalloc(json_array_size(items) + 1, sizeof(*list));
    size_t n = collect_counters(items, list);
    json_decref(root);
    *out = list;
    return (int)n;
}
