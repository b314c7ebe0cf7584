/* canon.c: RFC 8785 canonical JSON. See canon.h for the rules. */
#include "canon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ------------------------------------------------------------- */

/* Decode one scalar value at s[*i]; -1 on anything that is not well-formed
 * UTF-8 (overlong forms, surrogates, values above U+10FFFF, truncation). */
static int utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
    static const struct { unsigned char mask, lead; uint32_t min; } forms[] = {
        { 0xe0, 0xc0, 0x80 }, { 0xf0, 0xe0, 0x800 }, { 0xf8, 0xf0, 0x10000 },
    };
    unsigned char c = s[*i];
    if (c < 0x80) {
        *cp = c;
        (*i)++;
        return 0;
    }
    for (size_t f = 0; f < ARRAY_SIZE(forms); f++) {
        if ((c & forms[f].mask) != forms[f].lead)
            continue;
        size_t extra = f + 1;
        if (len - *i <= extra)          /* truncated sequence */
            return -1;
        uint32_t v = c & (0x3fu >> extra);
        for (size_t k = 1; k <= extra; k++) {
            unsigned char cc = s[*i + k];
            if ((cc & 0xc0) != 0x80)
                return -1;
            v = (v << 6) | (cc & 0x3f);
        }
        if (v < forms[f].min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
            return -1;
        *cp = v;
        *i += extra + 1;
        return 0;
    }
    return -1;
}

static bool utf8_valid(const char *s, size_t len)
{
    uint32_t cp;
    for (size_t i = 0; i < len;)
        if (utf8_next((const unsigned char *)s, len, &i, &cp) < 0)
            return false;
    return true;
}

/* The first UTF-16 code unit of a scalar value: itself in the BMP, the high
 * surrogate above it. Two supplementary characters with the same high
 * surrogate then order by their low surrogates, i.e. by code point. */
static uint32_t utf16_lead(uint32_t cp)
{
    return cp < 0x10000 ? cp : 0xd800 + ((cp - 0x10000) >> 10);
}

int canon_utf16_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    const unsigned char *ua = (const unsigned char *)a, *ub = (const unsigned char *)b;
    size_t i = 0, j = 0;
    while (i < alen && j < blen) {
        uint32_t ca, cb;
        /* Invalid input cannot reach here through json_canon (it validates
         * first); fall back to byte order so the result is still total. */
        if (utf8_next(ua, alen, &i, &ca) < 0)
            ca = ua[i++];
        if (utf8_next(ub, blen, &j, &cb) < 0)
            cb = ub[j++];
        if (ca == cb)
            continue;
        uint32_t la = utf16_lead(ca), lb = utf16_lead(cb);
        if (la != lb)
            return la < lb ? -1 : 1;
        return ca < cb ? -1 : 1;
    }
    if (i < alen)
        return 1;
    return j < blen ? -1 : 0;
}

/* ---- numbers ----------------------------------------------------------- */

/* Digits and decimal exponent of a positive finite double: value =
 * 0.d1d2...dk x 10^n. */
struct decimal {
    char digits[24];
    int k;
    int n;
};

/* Parse "%.*e" output ("d.ddde+XX" or "de-XX") into a decimal. */
static void decimal_from_e(const char *text, struct decimal *d)
{
    d->k = 0;
    const char *p = text;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            d->digits[d->k++] = *p;
    d->n = atoi(p + 1) + 1;
    d->digits[d->k] = '\0';
}

/* "1.50e5" has the digits "15": trailing zeros are not significant. */
static void decimal_trim(struct decimal *d)
{
    while (d->k > 1 && d->digits[d->k - 1] == '0')
        d->k--;
    d->digits[d->k] = '\0';
}

static bool decimal_reads_back(const struct decimal *d, double v)
{
    char text[64];
    snprintf(text, sizeof(text), "0.%se%d", d->digits, d->n);
    return strtod(text, NULL) == v;
}

/* The next decimal up in the last digit of d (carry may add a digit). */
static void decimal_increment(struct decimal *d)
{
    int i = d->k - 1;
    while (i >= 0 && d->digits[i] == '9')
        d->digits[i--] = '0';
    if (i >= 0) {
        d->digits[i]++;
    } else {
        memmove(d->digits + 1, d->digits, (size_t)d->k);
        d->digits[0] = '1';
        d->k++;
        d->n++;
    }
    d->digits[d->k] = '\0';
}

/* The fewest significant digits that read back as v, and among those the
 * decimal closest to v (ECMAScript Number::toString, step 5). printf gives
 * the correctly rounded p-digit decimal; only when v is a power of two is the
 * interval of values reading back as v lopsided (twice as wide above), so the
 * p-digit decimal just above the rounded one can read back when the rounded
 * one (below v) does not. */
static void shortest_decimal(double v, struct decimal *out)
{
    for (int p = 1; p <= 17; p++) {
        char text[64];
        snprintf(text, sizeof(text), "%.*e", p - 1, v);
        decimal_from_e(text, out);
        if (decimal_reads_back(out, v))
            break;
        if (strtod(text, NULL) < v) {
            /* The neighbour in the p-th digit: increment before trimming,
             * so that "...630" becomes "...631", not "...64". */
            struct decimal up = *out;
            decimal_increment(&up);
            if (decimal_reads_back(&up, v)) {
                *out = up;
                break;
            }
        }
    }
    /* 17 significant digits always read back, so the loop ends in a break. */
    decimal_trim(out);
}

static void put_zeros(char **p, int count)
{
    for (int i = 0; i < count; i++)
        *(*p)++ = '0';
}

static void put_digits(char **p, const char *digits, int count)
{
    memcpy(*p, digits, (size_t)count);
    *p += count;
}

/* Lay the digits out the ECMAScript way (Number::toString steps 6-10). */
static void decimal_format(const struct decimal *d, bool negative, char *out)
{
    char *p = out;
    int k = d->k, n = d->n;
    if (negative)
        *p++ = '-';
    if (k <= n && n <= 21) {            /* integer: digits then zeros */
        put_digits(&p, d->digits, k);
        put_zeros(&p, n - k);
    } else if (0 < n && n <= 21) {      /* point inside the digits */
        put_digits(&p, d->digits, n);
        *p++ = '.';
        put_digits(&p, d->digits + n, k - n);
    } else if (-6 < n && n <= 0) {      /* 0.000ddd */
        *p++ = '0';
        *p++ = '.';
        put_zeros(&p, -n);
        put_digits(&p, d->digits, k);
    } else {                            /* d.ddde+x */
        *p++ = d->digits[0];
        if (k > 1) {
            *p++ = '.';
            put_digits(&p, d->digits + 1, k - 1);
        }
        p += sprintf(p, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
    *p = '\0';
}

int canon_number(double d, char out[CANON_NUMBER_MAX])
{
    if (!isfinite(d))
        return -EDOM;
    if (d == 0) {                       /* +0 and -0 alike */
        strcpy(out, "0");
        return 0;
    }
    struct decimal dec;
    shortest_decimal(fabs(d), &dec);
    decimal_format(&dec, d < 0, out);
    return 0;
}

/* Integers up to 2^53 in magnitude are exact doubles and print as themselves
 * (they are far below 1e21); larger ones become the double they denote. */
static void canon_integer(json_int_t i, char out[CANON_NUMBER_MAX])
{
    const json_int_t exact = (json_int_t)1 << 53;
    if (i >= -exact && i <= exact)
        snprintf(out, CANON_NUMBER_MAX, "%" JSON_INTEGER_FORMAT, i);
    else
        canon_number((double)i, out);
}

/* ---- strings ----------------------------------------------------------- */

static void put_string(struct buf *out, const char *s, size_t len)
{
    static const char short_escape[0x20] = {
        ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
    };
    buf_putc(out, '"');
    size_t run = 0;   /* literal bytes not yet copied, ending at i */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        buf_append(out, s + i - run, run);
        run = 0;
        if (c == '"' || c == '\\')
            buf_printf(out, "\\%c", c);
        else if (short_escape[c])
            buf_printf(out, "\\%c", short_escape[c]);
        else
            buf_printf(out, "\\u%04x", c);
    }
    buf_append(out, s + len - run, run);
    buf_putc(out, '"');
}

/* ---- values ------------------------------------------------------------ */

struct member {
    const char *key;
    size_t key_len;
    const json_t *value;
};

static int member_cmp(const void *a, const void *b)
{
    const struct member *ma = a, *mb = b;
    return canon_utf16_cmp(ma->key, ma->key_len, mb->key, mb->key_len);
}

static int put_value(const json_t *v, struct buf *out, int depth, struct cell_err *err);

static int put_object(const json_t *obj, struct buf *out, int depth, struct cell_err *err)
{
    size_t n = json_object_size(obj), i = 0;
    _cleanup_free_ struct member *members = xcalloc(n, sizeof(*members));
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach((json_t *)obj, key, key_len, value) {
        if (!utf8_valid(key, key_len))
            return cell_err_set(err, EINVAL, "invalid_json",
                                "object key is not valid UTF-8");
        members[i++] = (struct member){ key, key_len, value };
    }
    qsort(members, i, sizeof(*members), member_cmp);
    buf_putc(out, '{');
    for (size_t m = 0; m < i; m++) {
        if (m)
            buf_putc(out, ',');
        put_string(out, members[m].key, members[m].key_len);
        buf_putc(out, ':');
        int r = put_value(members[m].value, out, depth + 1, err);
        if (r < 0)
            return r;
    }
    buf_putc(out, '}');
    return 0;
}

static int put_array(const json_t *arr, struct buf *out, int depth, struct cell_err *err)
{
    buf_putc(out, '[');
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (i)
            buf_putc(out, ',');
        int r = put_value(json_array_get(arr, i), out, depth + 1, err);
        if (r < 0)
            return r;
    }
    buf_putc(out, ']');
    return 0;
}

static int put_scalar(const json_t *v, struct buf *out, struct cell_err *err)
{
    char num[CANON_NUMBER_MAX];
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (!utf8_valid(s, len))
            return cell_err_set(err, EINVAL, "invalid_json", "string is not valid UTF-8");
        put_string(out, s, len);
        return 0;
    }
    case JSON_INTEGER:
        canon_integer(json_integer_value(v), num);
        buf_puts(out, num);
        return 0;
    case JSON_REAL:
        if (canon_number(json_real_value(v), num) < 0)
            return cell_err_set(err, EDOM, "invalid_json",
                                "NaN and Infinity have no JSON form");
        buf_puts(out, num);
        return 0;
    case JSON_TRUE:
        buf_puts(out, "true");
        return 0;
    case JSON_FALSE:
        buf_puts(out, "false");
        return 0;
    case JSON_NULL:
        buf_puts(out, "null");
        return 0;
    default:
        return cell_err_set(err, EINVAL, "invalid_json", "not a JSON value");
    }
}

static int put_value(const json_t *v, struct buf *out, int depth, struct cell_err *err)
{
    if (!v)
        return cell_err_set(err, EINVAL, "invalid_json", "missing value");
    if (depth > CANON_MAX_DEPTH)
        return cell_err_set(err, ELOOP, "invalid_json",
                            "nesting deeper than %d levels", CANON_MAX_DEPTH);
    if (json_is_object(v))
        return put_object(v, out, depth, err);
    if (json_is_array(v))
        return put_array(v, out, depth, err);
    return put_scalar(v, out, err);
}

int json_canon(const json_t *v, struct buf *out, struct cell_err *err)
{
    size_t saved = out->len;
    int r = put_value(v, out, 0, err);
    if (r < 0 && out->data) {
        out->len = saved;
        out->data[saved] = '\0';
    }
    return r;
}
