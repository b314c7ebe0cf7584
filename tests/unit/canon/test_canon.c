/* test_canon: RFC 8785 canonical JSON (src/json/canon.c). */
#include <math.h>
#include <string.h>

#include "json/canon.h"
#include "tap.h"

/* Canonical text of JSON text (NULL when either step fails). */
static char *canon_of(const char *json_text)
{
    json_error_t jerr;
    json_t *v = json_loads(json_text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v)
        return NULL;
    struct buf out = BUF_INIT;
    int r = json_canon(v, &out, NULL);
    json_decref(v);
    if (r < 0) {
        buf_free(&out);
        return NULL;
    }
    return buf_steal(&out);
}

static double from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

/* RFC 8785 section 3.2.2: the sample input and its canonical form. */
TEST(rfc8785_sample_object)
{
    const char *in =
        "{\n"
        "  \"numbers\": [333333333.33333329, 1E30, 4.50,\n"
        "              2e-3, 0.000000000000000000000000001],\n"
        "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
        "  \"literals\": [null, true, false]\n"
        "}";
    const char *want =
        "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
        "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    char *got = canon_of(in);
    is_str(got, want, "RFC 8785 3.2.2");
    free(got);
}

/* RFC 8785 section 3.2.3: member order by UTF-16 code units. */
TEST(rfc8785_sort_order)
{
    const char *in =
        "{\"\\u20ac\": \"Euro Sign\", \"\\r\": \"Carriage Return\","
        " \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\", \"1\": \"One\","
        " \"\\ud83d\\ude00\": \"Emoji: Grinning Face\", \"\\u0080\": \"Control\","
        " \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"}";
    const char *want =
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
        "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
        "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
        "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}";
    char *got = canon_of(in);
    is_str(got, want, "RFC 8785 3.2.3");
    free(got);
}

/* RFC 8785 Appendix B: IEEE-754 bit patterns and their ES text. */
TEST(rfc8785_number_table)
{
    static const struct { uint64_t bits; const char *text; } table[] = {
        { 0x0000000000000000, "0" },
        { 0x8000000000000000, "0" },
        { 0x0000000000000001, "5e-324" },
        { 0x8000000000000001, "-5e-324" },
        { 0x7fefffffffffffff, "1.7976931348623157e+308" },
        { 0xffefffffffffffff, "-1.7976931348623157e+308" },
        { 0x4340000000000000, "9007199254740992" },
        { 0xc340000000000000, "-9007199254740992" },
        { 0x4430000000000000, "295147905179352830000" },
        { 0x44b52d02c7e14af5, "9.999999999999997e+22" },
        { 0x44b52d02c7e14af6, "1e+23" },
        { 0x44b52d02c7e14af7, "1.0000000000000001e+23" },
        { 0x444b1ae4d6e2ef4e, "999999999999999700000" },
        { 0x444b1ae4d6e2ef4f, "999999999999999900000" },
        { 0x444b1ae4d6e2ef50, "1e+21" },
        { 0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7" },
        { 0x3eb0c6f7a0b5ed8d, "0.000001" },
        { 0x41b3de4355555553, "333333333.3333332" },
        { 0x41b3de4355555554, "333333333.33333325" },
        { 0x41b3de4355555555, "333333333.3333333" },
        { 0x41b3de4355555556, "333333333.3333334" },
        { 0x41b3de4355555557, "333333333.33333343" },
        { 0xbecbf647612f3696, "-0.0000033333333333333333" },
        { 0x43143ff3c1cb0959, "1424953923781206.2" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        char text[CANON_NUMBER_MAX];
        is_int(canon_number(from_bits(table[i].bits), text), 0, "%016llx",
               (unsigned long long)table[i].bits);
        is_str(text, table[i].text, "%016llx", (unsigned long long)table[i].bits);
    }
}

TEST(nan_and_infinity_refused)
{
    char text[CANON_NUMBER_MAX];
    is_int(canon_number(NAN, text), -EDOM, "NaN");
    is_int(canon_number(INFINITY, text), -EDOM, "+Inf");
    is_int(canon_number(-INFINITY, text), -EDOM, "-Inf");
    is_int(canon_number(from_bits(0x7fffffffffffffff), text), -EDOM, "NaN bits (RFC table)");
    is_int(canon_number(from_bits(0x7ff0000000000000), text), -EDOM, "Inf bits (RFC table)");
}

/* Where the exponent form starts and stops, and other ES corner cases. */
TEST(number_edges)
{
    static const struct { double d; const char *text; } table[] = {
        { 1e21, "1e+21" }, { 1e20, "100000000000000000000" }, { 1e-7, "1e-7" },
        { 1.5e-7, "1.5e-7" }, { 1e-6, "0.000001" }, { 123e-20, "1.23e-18" },
        { -0.0, "0" }, { 0.1, "0.1" }, { 0.1 + 0.2, "0.30000000000000004" },
        { 100.0, "100" }, { 4.35, "4.35" }, { 0.5, "0.5" }, { -1.5, "-1.5" },
        { 1e16, "10000000000000000" }, { 1.5e300, "1.5e+300" },
        { 2.2250738585072014e-308, "2.2250738585072014e-308" },
        { 1.152921504606847e+18, "1152921504606847000" },
        { 1.1805916207174113e+21, "1.1805916207174113e+21" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        char text[CANON_NUMBER_MAX];
        canon_number(table[i].d, text);
        is_str(text, table[i].text, "entry %zu", i);
    }
}

/* Powers of two have a lopsided rounding interval: the shortest decimal
 * that reads back lies above the correctly rounded one. */
TEST(number_powers_of_two)
{
    static const struct { uint64_t bits; const char *text; } table[] = {
        { 0x0060000000000000, "7.120236347223045e-307" },
        /* the rounded candidate ends in 0: "...630" → "...631" */
        { 0x0e80000000000000, "7.678447687145631e-239" },
        { 0x0f50000000000000, "6.290184345309701e-235" },
        { 0x2160000000000000, "6.256509672447191e-148" },
        { 0x75e0000000000000, "6.150157786156811e+259" },
        { 0x0100000000000000, "7.291122019556398e-304" },
        { 0x3d30000000000000, "5.684341886080802e-14" },
        { 0x0010000000000000, "2.2250738585072014e-308" },
        { 0x0000000000000003, "1.5e-323" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        char text[CANON_NUMBER_MAX];
        canon_number(from_bits(table[i].bits), text);
        is_str(text, table[i].text, "%016llx", (unsigned long long)table[i].bits);
    }
}

/* Integers are ES numbers: exact up to 2^53, rounded to a double beyond. */
TEST(integers)
{
    static const struct { const char *in, *want; } table[] = {
        { "0", "0" }, { "-0", "0" }, { "42", "42" }, { "-17", "-17" },
        { "9007199254740992", "9007199254740992" },
        { "-9007199254740992", "-9007199254740992" },
        { "9007199254740993", "9007199254740992" },
        { "9223372036854775807", "9223372036854776000" },
        { "-9223372036854775808", "-9223372036854776000" },
        { "1.0", "1" }, { "-0.0", "0" }, { "1e2", "100" }, { "1E400", NULL },
    };
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        char *got = canon_of(table[i].in);
        is_str(got, table[i].want, "%s", table[i].in);
        free(got);
    }
}

TEST(string_escapes)
{
    /* Every control character, then the characters JCS leaves alone. */
    struct buf want = BUF_INIT;
    json_t *s = json_stringn("\x00\x01\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x1f\x20\"\\/\x7f"
                             "\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80", 25);
    ok(s != NULL, "string built");
    buf_puts(&want, "\"\\u0000\\u0001\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u001f \\\"\\\\/\x7f"
                    "\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80\"");
    struct buf got = BUF_INIT;
    is_int(json_canon(s, &got, NULL), 0, "canonicalized");
    is_int(got.len, want.len, "length");
    ok(got.len == want.len && memcmp(got.data, want.data, got.len) == 0, "bytes: %s", got.data);
    json_decref(s);
    buf_free(&got);
    buf_free(&want);
}

TEST(invalid_utf8_refused)
{
    static const char *const bad[] = {
        "\xff", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "a\x80",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        json_t *s = json_stringn_nocheck(bad[i], strlen(bad[i]));
        struct buf out = BUF_INIT;
        struct cell_err err = { 0 };
        is_int(json_canon(s, &out, &err), -EINVAL, "case %zu", i);
        is_int(out.len, 0, "nothing written for case %zu", i);
        json_decref(s);
        buf_free(&out);
    }
}

/* U+E000..U+FFFF sort after supplementary characters in UTF-16, before
 * them in UTF-8 byte order; the canonical order is UTF-16's. */
TEST(utf16_order_not_byte_order)
{
    char *got = canon_of("{\"\\ue000\":1,\"\\ud83d\\ude00\":2,\"\\uffff\":3,\"z\":4,"
                         "\"\\ud800\\udc00\":5}");
    is_str(got, "{\"z\":4,\"\xf0\x90\x80\x80\":5,\"\xf0\x9f\x98\x80\":2,"
                "\"\xee\x80\x80\":1,\"\xef\xbf\xbf\":3}", "order");
    free(got);
    ok(canon_utf16_cmp("\xee\x80\x80", 3, "\xf0\x9f\x98\x80", 4) > 0, "U+E000 > U+1F600");
    ok(canon_utf16_cmp("a", 1, "ab", 2) < 0, "prefix first");
    ok(canon_utf16_cmp("ab", 2, "ab", 2) == 0, "equal");
    ok(canon_utf16_cmp("\xf0\x9f\x98\x81", 4, "\xf0\x9f\x98\x80", 4) > 0, "same high surrogate");
    ok(canon_utf16_cmp("B", 1, "a", 1) < 0, "case: upper first");
}

TEST(structures)
{
    static const struct { const char *in, *want; } table[] = {
        { "{}", "{}" }, { "[]", "[]" }, { "[{}, [], {\"a\": []}]", "[{},[],{\"a\":[]}]" },
        { "{\"b\": {\"d\": 1, \"c\": 2}, \"a\": [3, {\"z\": null, \"y\": true}]}",
          "{\"a\":[3,{\"y\":true,\"z\":null}],\"b\":{\"c\":2,\"d\":1}}" },
        { "\"plain\"", "\"plain\"" }, { "null", "null" }, { "false", "false" },
        { "{\"10\": 1, \"1\": 2, \"\": 3, \"a\": 4}", "{\"\":3,\"1\":2,\"10\":1,\"a\":4}" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        char *got = canon_of(table[i].in);
        is_str(got, table[i].want, "%s", table[i].in);
        free(got);
    }
}

TEST(depth_limit_and_output_untouched)
{
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < CANON_MAX_DEPTH + 5; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    struct buf out = BUF_INIT;
    buf_puts(&out, "prefix");
    struct cell_err err = { 0 };
    is_int(json_canon(root, &out, &err), -ELOOP, "too deep");
    is_str(out.data, "prefix", "output as it was");
    ok(strstr(err.msg, "nesting") != NULL, "message: %s", err.msg);
    json_decref(root);

    /* Just at the limit is fine. */
    root = json_array(), cur = root;
    for (int i = 0; i < CANON_MAX_DEPTH; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    buf_reset(&out);
    is_int(json_canon(root, &out, &err), 0, "at the limit");
    json_decref(root);
    buf_free(&out);
}

TEST(appends_to_buffer)
{
    struct buf out = BUF_INIT;
    buf_puts(&out, "x=");
    json_t *v = json_pack("{s:i}", "k", 1);
    is_int(json_canon(v, &out, NULL), 0, "ok");
    is_str(out.data, "x={\"k\":1}", "appended");
    json_decref(v);
    buf_free(&out);
}

TAP_MAIN
