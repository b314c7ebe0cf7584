/* test_hostmatch.c: the allowlist matcher and its pattern syntax. */
#include <string.h>

#include "policy/hostmatch.h"
#include "tap.h"

static struct hostmatch *compile(const char *const *patterns, size_t n)
{
    struct cell_err err = { 0 };
    struct hostmatch *hm = hostmatch_new(patterns, n, &err);
    ok(hm != NULL, "compiles: %s", err.msg);
    return hm;
}

static bool allows(const struct hostmatch *hm, const char *name)
{
    return hostmatch_allows(hm, name, strlen(name));
}

TEST(literal_matches_exactly)
{
    const char *p[] = { "api.example.com" };
    _cleanup_hostmatch_ struct hostmatch *hm = compile(p, 1);
    ok(allows(hm, "api.example.com"), "exact");
    ok(allows(hm, "API.Example.COM"), "case-insensitive");
    ok(allows(hm, "api.example.com."), "one trailing dot ignored");
    ok(!allows(hm, "api.example.com.."), "two trailing dots are not");
    ok(!allows(hm, "x.api.example.com"), "a literal never admits subdomains");
    ok(!allows(hm, "example.com"), "nor its parent");
    ok(!allows(hm, "api.example.co"), "nor a prefix");
    ok(!allows(hm, "api.example.comm"), "nor a longer name");
    ok(!allows(hm, "aapi.example.com"), "nor a longer first label");
    ok(!allows(hm, ""), "empty");
    ok(!allows(hm, "."), "root");
    ok(!allows(hm, ".api.example.com"), "leading dot");
}

TEST(wildcard_needs_at_least_one_label)
{
    const char *p[] = { "*.cdn.example.com" };
    _cleanup_hostmatch_ struct hostmatch *hm = compile(p, 1);
    ok(allows(hm, "a.cdn.example.com"), "one extra label");
    ok(allows(hm, "a.b.c.cdn.example.com"), "several extra labels");
    ok(allows(hm, "A.CDN.example.com."), "case and trailing dot");
    ok(!allows(hm, "cdn.example.com"), "never the base itself");
    ok(!allows(hm, "cdn.example.com."), "nor with a dot");
    ok(!allows(hm, "xcdn.example.com"), "label boundary respected");
    ok(!allows(hm, ".cdn.example.com"), "empty extra label");
    ok(!allows(hm, "a..cdn.example.com"), "empty label inside");
    ok(!allows(hm, "example.com"), "parent");
    ok(!allows(hm, "*.cdn.example.com"), "a literal star is not a label character");
    ok(!allows(hm, "a.cdn.example.com.evil.net"), "suffix must end the name");
}

TEST(literal_and_wildcard_of_the_same_name)
{
    const char *p[] = { "example.com", "*.example.com" };
    _cleanup_hostmatch_ struct hostmatch *hm = compile(p, 2);
    ok(allows(hm, "example.com"), "literal");
    ok(allows(hm, "www.example.com"), "wildcard");
    ok(!allows(hm, "example.org"), "other");
    is_int(hostmatch_count(hm), 2, "two distinct patterns");
}

TEST(many_patterns)
{
    enum { N = 2000 };
    static char names[N][32];
    const char *p[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), i % 2 ? "*.h%d.example" : "h%d.example", i);
        p[i] = names[i];
    }
    _cleanup_hostmatch_ struct hostmatch *hm = compile(p, N);
    is_int(hostmatch_count(hm), N, "all compiled");
    char q[64];
    int good = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(q, sizeof(q), "h%d.example", i);
        good += (i % 2 == 0) == allows(hm, q);
        snprintf(q, sizeof(q), "x.h%d.example", i);
        good += (i % 2 == 1) == allows(hm, q);
        snprintf(q, sizeof(q), "h%d.example", i + N);
        bad += allows(hm, q);
    }
    is_int(good, 2 * N, "every literal and wildcard behaves");
    is_int(bad, 0, "no stray matches");
}

TEST(duplicates_and_trailing_dot_patterns)
{
    const char *p[] = { "a.com", "A.COM", "a.com.", "*.b.com", "*.B.com." };
    _cleanup_hostmatch_ struct hostmatch *hm = compile(p, ARRAY_SIZE(p));
    is_int(hostmatch_count(hm), 2, "duplicates folded");
    ok(allows(hm, "a.com"), "a.com");
    ok(allows(hm, "x.b.com"), "x.b.com");
    ok(!allows(hm, "b.com"), "b.com");
}

TEST(empty_list_admits_nothing)
{
    _cleanup_hostmatch_ struct hostmatch *hm = compile(NULL, 0);
    ok(!allows(hm, "example.com"), "nothing");
    ok(!hostmatch_allows(NULL, "example.com", 11), "NULL matcher");
}

TEST(names_that_are_not_hostnames_never_match)
{
    const char *p[] = { "*.example.com", "ok.example.com" };
    _cleanup_hostmatch_ struct hostmatch *hm = compile(p, 2);
    ok(!hostmatch_allows(hm, "a\0b.example.com", 15), "embedded NUL");
    ok(!allows(hm, "a b.example.com"), "space");
    ok(!allows(hm, "a/b.example.com"), "slash");
    ok(!allows(hm, "evil.com/.example.com"), "path-looking");
    ok(!allows(hm, "evil.com:443.example.com"), "colon");
    ok(!allows(hm, "\xc3\xa9.example.com"), "non-ASCII");
    ok(allows(hm, "_sip._tcp.example.com"), "underscores are label characters");
    ok(allows(hm, "-x-.example.com"), "hyphens anywhere");
    /* Length bounds: a name of exactly 253 characters matches. */
    char name[300];
    memset(name, 'a', sizeof(name));
    size_t base = strlen(".example.com");
    for (size_t i = 63; i < 253 - base; i += 64)
        name[i] = '.';
    memcpy(name + 253 - base, ".example.com", base);
    name[253] = '\0';
    ok(allows(hm, name), "253 characters");
    name[253] = '.';
    name[254] = '\0';
    ok(allows(hm, name), "253 characters and a trailing dot");
    char longer[300];
    memcpy(longer, "b", 1);
    memcpy(longer + 1, name, 254);
    longer[254] = '\0';
    ok(!allows(hm, longer), "254 characters");
    char biglabel[100] = { 0 };
    memset(biglabel, 'x', 64);
    strcat(biglabel, ".example.com");
    ok(!allows(hm, biglabel), "64-character label");
    biglabel[0] = '.';
    ok(allows(hm, biglabel + 1), "63-character label matches");
    ok(!allows(hm, biglabel), "leading dot");
}

TEST(length_is_respected_without_nul)
{
    const char *p[] = { "example.com" };
    _cleanup_hostmatch_ struct hostmatch *hm = compile(p, 1);
    const char *text = "example.comXYZ";
    ok(hostmatch_allows(hm, text, 11), "prefix of a longer buffer");
    ok(!hostmatch_allows(hm, text, 10), "shorter");
    ok(hostmatch_allows(hm, "example.com.", 12), "dot within length");
}

struct pattern_case {
    const char *pattern;
    const char *why; /* NULL: valid */
};

static const struct pattern_case pattern_cases[] = {
    { "example.com", NULL },
    { "*.example.com", NULL },
    { "localhost", NULL },
    { "*.com", NULL },
    { "example.com.", NULL },
    { "*.example.com.", NULL },
    { "_dmarc.example.com", NULL },
    { "xn--bcher-kva.example", NULL },
    { "a1.b2.c3", NULL },
    { "", "must not be empty" },
    { ".", "must not be empty" },
    { "*", "a bare '*' would admit every name; write *.example.com" },
    { "*.", "'*.' must be followed by a name" },
    { "*..", "'*.' must be followed by a name" },
    { "a.*.b", "'*' is only allowed as the whole first label (*.example.com)" },
    { "**.x", "'*' is only allowed as the whole first label (*.example.com)" },
    { "*x.com", "'*' is only allowed as the whole first label (*.example.com)" },
    { "x.*", "'*' is only allowed as the whole first label (*.example.com)" },
    { "a..b", "empty label" },
    { ".a.b", "empty label" },
    { "a.b..", "empty label" },
    { "example.com..", "empty label" },
    { "*.example.com..", "empty label" },
    { "exa mple.com", "invalid character (allowed: letters, digits, '-', '_', '.')" },
    { "ex\tample.com", "invalid character (allowed: letters, digits, '-', '_', '.')" },
    { "exämple.com", "invalid character (allowed: letters, digits, '-', '_', '.')" },
    { "example.com:443", "invalid character (allowed: letters, digits, '-', '_', '.')" },
    { "10.0.0.1", "last label is all digits: an IP address is not a hostname" },
    { "*.10.0.0.1", "last label is all digits: an IP address is not a hostname" },
    { "host.123", "last label is all digits: an IP address is not a hostname" },
    { "::1", "invalid character (allowed: letters, digits, '-', '_', '.')" },
};

TEST(pattern_syntax)
{
    for (size_t i = 0; i < ARRAY_SIZE(pattern_cases); i++) {
        const char *why = NULL;
        int r = hostmatch_check_pattern(pattern_cases[i].pattern, &why);
        if (!pattern_cases[i].why) {
            is_int(r, 0, "'%s' is valid (%s)", pattern_cases[i].pattern, why ? why : "");
        } else {
            is_int(r, -EINVAL, "'%s' is invalid", pattern_cases[i].pattern);
            is_str(why, pattern_cases[i].why, "'%s' reason", pattern_cases[i].pattern);
        }
    }
    ok(hostmatch_check_pattern(NULL, NULL) == -EINVAL, "NULL pattern");
    ok(hostmatch_check_pattern("a.com", NULL) == 0, "why may be NULL");
}

TEST(pattern_length_limits)
{
    char label[80] = { 0 };
    memset(label, 'a', 63);
    char p[400];
    snprintf(p, sizeof(p), "%s.com", label);
    is_int(hostmatch_check_pattern(p, NULL), 0, "63-character label");
    label[63] = 'a';
    snprintf(p, sizeof(p), "%s.com", label);
    const char *why;
    is_int(hostmatch_check_pattern(p, &why), -EINVAL, "64-character label");
    is_str(why, "label longer than 63 characters", "why");
    label[63] = '\0';
    /* 63+1+63+1+63+1+61 = 253 */
    snprintf(p, sizeof(p), "%s.%s.%s.%.61s", label, label, label, label);
    is_int(strlen(p), 253, "253 long");
    is_int(hostmatch_check_pattern(p, NULL), 0, "253 characters");
    snprintf(p, sizeof(p), "%s.%s.%s.%.62s", label, label, label, label);
    is_int(hostmatch_check_pattern(p, &why), -EINVAL, "254 characters");
    is_str(why, "name longer than 253 characters", "why");
    snprintf(p, sizeof(p), "*.%s.%s.%s.%.59s", label, label, label, label);
    is_int(hostmatch_check_pattern(p, NULL), 0, "wildcard of 253 characters");
    snprintf(p, sizeof(p), "*.%s.%s.%s.%.60s", label, label, label, label);
    is_int(hostmatch_check_pattern(p, &why), -EINVAL, "wildcard of 254 characters");
}

TEST(check_name)
{
    const char *why;
    is_int(hostmatch_check_name("api.example.com", 15, &why), 0, "name");
    is_int(hostmatch_check_name("api.example.com.", 16, &why), 0, "with dot");
    is_int(hostmatch_check_name("*.example.com", 13, &why), -EINVAL, "no wildcard");
    is_int(hostmatch_check_name("a", 1, &why), 0, "single label");
    is_int(hostmatch_check_name("", 0, &why), -EINVAL, "empty");
    is_str(why, "must not be empty", "why");
}

TEST(invalid_pattern_fails_compilation)
{
    const char *p[] = { "ok.com", "a.*.b" };
    struct cell_err err = { 0 };
    struct hostmatch *hm = hostmatch_new(p, 2, &err);
    ok(hm == NULL, "refused");
    is_int(err.errnum, EINVAL, "EINVAL");
    is_str(err.msg, "hostname pattern 'a.*.b': '*' is only allowed as the whole first label "
                    "(*.example.com)", "message");
    hostmatch_free(NULL);
}

TAP_MAIN
