/* test_nft.c: nft ruleset rendering. Each case in nft_cases[] is compared
 * byte for byte with tests/golden/nft/<case>.nft; UPDATE_GOLDEN=1 rewrites
 * the files instead (review the diff before committing). */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "net/nft.h"
#include "nft_cases.h"
#include "tap.h"
#include "unit/net/net_test_config.h"

/* ---- the cases ------------------------------------------------------------- */

static const struct nft_egress eg_tcp[] = {
    { "93.184.216.34", 443, NFT_L4_TCP, "api.example.com:443/tcp" },
};
static const struct nft_egress eg_udp[] = {
    { "127.0.0.1", 53054, NFT_L4_UDP, NULL },
};
static const struct nft_egress eg_v6[] = {
    { "2001:db8::1", 443, NFT_L4_TCP, "v6.example.com:443/tcp" },
};
static const struct nft_egress eg_cidr[] = {
    { "10.1.2.3/8", 5432, NFT_L4_TCP, "10.0.0.0/8:5432/tcp" },
    { "2001:db8:abcd::5/48", 8080, NFT_L4_TCP, NULL },
};
static const struct nft_egress eg_several[] = {
    { "93.184.216.34", 443, NFT_L4_TCP, "api.example.com:443/tcp" },
    { "93.184.216.35", 443, NFT_L4_TCP, "api.example.com:443/tcp" },
    { "2606:2800:220:1::1", 443, NFT_L4_TCP, "api.example.com:443/tcp" },
    { "127.0.0.1", 53053, NFT_L4_UDP, NULL },
    { "192.168.0.0/16", 9000, NFT_L4_UDP, "lab \"net\"\n;drop" },
};
static const struct nft_endpoint proxy_lo[] = { { "127.0.0.1", 53053 } };
static const struct nft_endpoint proxy_both[] = { { "127.0.0.1", 53 }, { "::1", 53 } };
static const struct nft_endpoint resolvers[] = { { "10.0.0.2", 53 }, { "127.0.0.1", 53053 } };
static const uint16_t l7_ports[] = { 8443, 443, 8080 };

const struct nft_case nft_cases[] = {
    { "empty", { .cell_id = "demo-cell-001" } },
    { "tcp", { .cell_id = "demo-cell-001", .egress = eg_tcp, .n_egress = 1 } },
    { "udp", { .cell_id = "demo-cell-001", .egress = eg_udp, .n_egress = 1 } },
    { "ipv6", { .cell_id = "demo-cell-001", .egress = eg_v6, .n_egress = 1 } },
    { "cidr", { .cell_id = "demo-cell-001", .egress = eg_cidr, .n_egress = 2 } },
    { "dns_block",
      { .cell_id = "e2e.cell", .egress = eg_udp, .n_egress = 1, .dns_proxies = proxy_lo,
        .n_dns_proxies = 1, .resolvers = resolvers, .n_resolvers = 2,
        .block_direct_dns = true } },
    { "dns_block_no_proxy", { .cell_id = "c", .block_direct_dns = true } },
    { "dns_proxy_dual_stack",
      { .cell_id = "dual", .dns_proxies = proxy_both, .n_dns_proxies = 2,
        .block_direct_dns = true } },
    { "nflog",
      { .cell_id = "demo-cell-001", .egress = eg_tcp, .n_egress = 1, .dns_proxies = proxy_lo,
        .n_dns_proxies = 1, .block_direct_dns = true, .nflog_group = 7 } },
    { "several",
      { .cell_id = "Build_4711-x.y", .egress = eg_several, .n_egress = ARRAY_SIZE(eg_several),
        .dns_proxies = proxy_lo, .n_dns_proxies = 1, .resolvers = resolvers, .n_resolvers = 2,
        .block_direct_dns = true } },
    { "l7_redirect",
      { .cell_id = "l7", .egress = eg_tcp, .n_egress = 1, .l7_redirect_port = 15001,
        .l7_ports = l7_ports, .n_l7_ports = ARRAY_SIZE(l7_ports) } },
};
const size_t nft_case_count = ARRAY_SIZE(nft_cases);

/* ---- golden comparison ----------------------------------------------------- */

static bool update_golden(void)
{
    const char *v = getenv("UPDATE_GOLDEN");
    return v && strcmp(v, "1") == 0;
}

static void check_golden(const struct nft_case *c)
{
    _cleanup_free_ char *text = NULL;
    struct cell_err err = { 0 };
    int rc = nft_render(&c->policy, &text, &err);
    is_int(rc, 0, "%s: render: %s", c->name, err.msg);
    if (rc < 0)
        return;
    _cleanup_free_ char *path = xasprintf("%s/%s.nft", NFT_GOLDEN_DIR, c->name);
    if (update_golden()) {
        FILE *f = fopen(path, "w");
        ok(f && fputs(text, f) >= 0 && fclose(f) == 0, "%s: write %s", c->name, path);
        return;
    }
    _cleanup_free_ char *want = NULL;
    size_t len = 0;
    rc = read_file_path(path, 1 << 20, &want, &len);
    is_int(rc, 0, "%s: read %s (UPDATE_GOLDEN=1 creates it)", c->name, path);
    if (rc >= 0)
        is_str(text, want, "%s: rendering differs from %s", c->name, path);
}

TEST(golden_cases)
{
    for (size_t i = 0; i < nft_case_count; i++)
        check_golden(&nft_cases[i]);
}

TEST(render_is_deterministic)
{
    for (size_t i = 0; i < nft_case_count; i++) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        ok(nft_render(&nft_cases[i].policy, &a, NULL) == 0, "first");
        ok(nft_render(&nft_cases[i].policy, &b, NULL) == 0, "second");
        is_str(a, b, "%s", nft_cases[i].name);
    }
}

/* ---- table names ------------------------------------------------------------- */

TEST(table_name_sanitized)
{
    char name[NFT_TABLE_NAME_MAX];
    ok(nft_table_name("demo-cell.001", name) == 0, "valid id");
    is_str(name, "cellos_demo_cell_001", "- and . become _");
    ok(nft_table_name("", name) == -EINVAL, "empty id");
    ok(nft_table_name(NULL, name) == -EINVAL, "NULL id");

    char longid[200];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    ok(nft_table_name(longid, name) == 0, "long id");
    is_int(strlen(name), NFT_TABLE_NAME_MAX - 1, "cut to the bound");
    ok(str_has_prefix(name, "cellos_aaaa"), "prefix kept");
}

/* ---- validation -------------------------------------------------------------- */

static void expect_invalid(const struct nft_policy *p, const char *msg_prefix)
{
    char *text = NULL;
    struct cell_err err = { 0 };
    is_int(nft_render(p, &text, &err), -EINVAL, "%s", msg_prefix);
    ok(text == NULL, "no output on error");
    ok(str_has_prefix(err.msg, msg_prefix), "message \"%s\" starts with \"%s\"", err.msg,
       msg_prefix);
    free(text);
}

TEST(invalid_policies)
{
    static const struct nft_egress bad_addr[] = { { "api.example.com", 443, NFT_L4_TCP, 0 } };
    static const struct nft_egress bad_prefix[] = { { "10.0.0.0/33", 443, NFT_L4_TCP, 0 } };
    static const struct nft_egress bad_prefix6[] = { { "::/129", 443, NFT_L4_TCP, 0 } };
    static const struct nft_egress bad_prefix_text[] = { { "10.0.0.0/x", 1, NFT_L4_TCP, 0 } };
    static const struct nft_egress bad_port[] = {
        { "1.2.3.4", 1, NFT_L4_TCP, 0 }, { "1.2.3.4", 0, NFT_L4_TCP, 0 } };
    static const struct nft_egress bad_proto[] = { { "1.2.3.4", 1, (enum nft_l4)7, 0 } };
    static const struct nft_egress null_addr[] = { { NULL, 1, NFT_L4_TCP, 0 } };
    static const struct nft_endpoint cidr_proxy[] = { { "127.0.0.0/8", 53 } };
    static const struct nft_endpoint zero_port[] = { { "127.0.0.1", 0 } };
    static const struct nft_endpoint bracketed[] = { { "[::1]", 53 } };
    static const uint16_t zero_l7[] = { 0 };

    expect_invalid(NULL, "policy: missing");
    expect_invalid(&(struct nft_policy){ .cell_id = "" }, "cellId");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .egress = bad_addr, .n_egress = 1 },
                   "egress[0].addr");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .egress = bad_prefix, .n_egress = 1 },
                   "egress[0].addr");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .egress = bad_prefix6, .n_egress = 1 },
                   "egress[0].addr");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .egress = bad_prefix_text,
                                         .n_egress = 1 }, "egress[0].addr");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .egress = bad_port, .n_egress = 2 },
                   "egress[1].port");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .egress = bad_proto, .n_egress = 1 },
                   "egress[0].protocol");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .egress = null_addr, .n_egress = 1 },
                   "egress[0].addr");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .n_egress = 1 }, "egress: missing");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .n_egress = NFT_MAX_EGRESS + 1,
                                         .egress = bad_addr }, "egress: more than");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .dns_proxies = cidr_proxy,
                                         .n_dns_proxies = 1 }, "dnsProxies[0].addr");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .dns_proxies = bracketed,
                                         .n_dns_proxies = 1 }, "dnsProxies[0].addr");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .resolvers = zero_port,
                                         .n_resolvers = 1 }, "resolvers[0].port");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .resolvers = zero_port,
                                         .n_resolvers = NFT_MAX_ENDPOINTS + 1 },
                   "resolvers: more than");
    expect_invalid(&(struct nft_policy){ .cell_id = "x", .l7_redirect_port = 1,
                                         .l7_ports = zero_l7, .n_l7_ports = 1 }, "l7Ports[0]");
}

TEST(labels_cannot_break_out_of_comments)
{
    static const struct nft_egress e[] = {
        { "1.2.3.4", 1, NFT_L4_TCP, "x\" accept; add rule inet t c accept comment \"" } };
    _cleanup_free_ char *text = NULL;
    ok(nft_render(&(struct nft_policy){ .cell_id = "x", .egress = e, .n_egress = 1 }, &text,
                  NULL) == 0, "render");
    ok(text && strstr(text, "comment \"egress[0] x_ accept_ add rule inet t c accept comment _\"")
           != NULL, "quote and semicolon replaced:\n%s", text ? text : "");
}

TEST(long_labels_are_cut)
{
    char label[300];
    memset(label, 'l', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    const struct nft_egress e[] = { { "1.2.3.4", 1, NFT_L4_TCP, label } };
    _cleanup_free_ char *text = NULL;
    ok(nft_render(&(struct nft_policy){ .cell_id = "x", .egress = e, .n_egress = 1,
                                        .nflog_group = 3 }, &text, NULL) == 0, "render");
    const char *c = text ? strstr(text, "comment \"egress[0] ") : NULL;
    ok(c != NULL, "comment present");
    if (c) {
        const char *start = c + strlen("comment \"");
        const char *end = strchr(start, '"');
        ok(end && end - start == NFT_COMMENT_MAX, "comment is %d bytes", NFT_COMMENT_MAX);
    }
}

TAP_MAIN
