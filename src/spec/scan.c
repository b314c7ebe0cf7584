/* scan.c: a bounded pre-scan of the raw spec bytes.
 *
 * jansson can reject duplicate keys, but tells only a byte position, and it
 * nests up to 2048 levels. Users need the JSON path, and every duplicate,
 * so this pass walks the bytes once with an explicit stack of at most
 * SPEC_MAX_DEPTH frames (no recursion: the input is untrusted), keeps the
 * decoded keys of each open object in a small hash set, and reports:
 *   <path>: duplicate key          for every repeated key
 *   <path>: nesting deeper than N levels   where the limit is first crossed
 * It is deliberately lenient about syntax (numbers, literals, UTF-8): at the
 * first thing it does not understand it stops, and jansson, which parses
 * afterwards, reports the syntax error. The same walk, told to stop at a
 * byte offset, names the path for jansson's error positions. */
#include <stdio.h>
#include <string.h>

#include "spec/spec-internal.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

struct key_slot {
    uint64_t hash;
    size_t off;          /* into keyset.arena */
    size_t len;
    bool used;
};

/* The decoded keys of one open object. */
struct keyset {
    struct key_slot *slots;
    size_t mask;
    size_t count;
    struct buf arena;
};

struct frame {
    bool is_object;
    size_t index;        /* arrays: index of the current element */
    size_t path_base;    /* path length of the container itself */
    struct keyset keys;
};

struct scanner {
    const char *s;
    size_t len, pos;
    size_t stop_at;      /* SIZE_MAX: scan everything */
    bool stopped;        /* reached stop_at */
    struct frame frames[SPEC_MAX_DEPTH];
    int depth;
    struct buf path;
    struct buf key;      /* scratch: the decoded current key */
    struct spec_errors *errs;
    size_t found;
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * FNV_PRIME;
    return h;
}

static void keyset_free(struct keyset *ks)
{
    free(ks->slots);
    buf_free(&ks->arena);
    *ks = (struct keyset){ 0 };
}

static void keyset_place(struct keyset *ks, uint64_t h, size_t off, size_t len)
{
    size_t i = h & ks->mask;
    while (ks->slots[i].used)
        i = (i + 1) & ks->mask;
    ks->slots[i] = (struct key_slot){ .hash = h, .off = off, .len = len, .used = true };
}

static void keyset_grow(struct keyset *ks)
{
    size_t old_n = ks->slots ? ks->mask + 1 : 0;
    struct key_slot *old = ks->slots;
    size_t n = old_n ? old_n * 2 : 16;
    ks->slots = xcalloc(n, sizeof(*ks->slots));
    ks->mask = n - 1;
    for (size_t i = 0; i < old_n; i++)
        if (old[i].used)
            keyset_place(ks, old[i].hash, old[i].off, old[i].len);
    free(old);
}

/* Adds key; false when it was already there. */
static bool keyset_add(struct keyset *ks, const char *key, size_t len)
{
    if (!ks->slots || 2 * (ks->count + 1) > ks->mask + 1)
        keyset_grow(ks);
    uint64_t h = hash_bytes(key, len);
    for (size_t i = h & ks->mask; ks->slots[i].used; i = (i + 1) & ks->mask) {
        const struct key_slot *k = &ks->slots[i];
        if (k->hash == h && k->len == len && memcmp(ks->arena.data + k->off, key, len) == 0)
            return false;
    }
    size_t off = ks->arena.len;
    buf_append(&ks->arena, key, len);
    keyset_place(ks, h, off, len);
    ks->count++;
    return true;
}

static void skip_ws(struct scanner *sc)
{
    while (sc->pos < sc->len) {
        char c = sc->s[sc->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        sc->pos++;
    }
}

/* A token ending at or after stop_at is where the caller's error lies. */
static bool reached(struct scanner *sc, size_t token_end)
{
    if (token_end >= sc->stop_at)
        sc->stopped = true;
    return sc->stopped;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool read_hex4(struct scanner *sc, uint32_t *out)
{
    if (sc->len - sc->pos < 4)
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(sc->s[sc->pos + (size_t)i]);
        if (h < 0)
            return false;
        v = v << 4 | (uint32_t)h;
    }
    sc->pos += 4;
    *out = v;
    return true;
}

static void put_utf8(struct buf *b, uint32_t cp)
{
    char out[4];
    size_t n;
    if (cp < 0x80) {
        out[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), out[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    buf_append(b, out, n);
}

/* After "\u": one code point, joining a surrogate pair. */
static bool read_unicode_escape(struct scanner *sc, struct buf *out)
{
    uint32_t cp, low;
    if (!read_hex4(sc, &cp))
        return false;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return false;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (sc->len - sc->pos < 2 || sc->s[sc->pos] != '\\' || sc->s[sc->pos + 1] != 'u')
            return false;
        sc->pos += 2;
        if (!read_hex4(sc, &low) || low < 0xdc00 || low > 0xdfff)
            return false;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    }
    if (out)
        put_utf8(out, cp);
    return true;
}

static bool read_escape(struct scanner *sc, struct buf *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (sc->pos >= sc->len)
        return false;
    char c = sc->s[sc->pos++];
    if (c == 'u')
        return read_unicode_escape(sc, out);
    const char *hit = c ? strchr(from, c) : NULL;
    if (!hit)
        return false;
    if (out)
        buf_putc(out, to[hit - from]);
    return true;
}

/* A string at sc->pos (on its opening quote); decoded into out when
 * non-NULL. False on anything malformed. */
static bool read_string(struct scanner *sc, struct buf *out)
{
    sc->pos++;
    for (;;) {
        size_t run = sc->pos;
        while (sc->pos < sc->len && sc->s[sc->pos] != '"' && sc->s[sc->pos] != '\\' &&
               (unsigned char)sc->s[sc->pos] >= 0x20)
            sc->pos++;
        if (out)
            buf_append(out, sc->s + run, sc->pos - run);
        if (sc->pos >= sc->len || (unsigned char)sc->s[sc->pos] < 0x20)
            return false;
        if (sc->s[sc->pos++] == '"')
            return true;
        if (!read_escape(sc, out))
            return false;
    }
}

/* Numbers and true/false/null: their exact grammar is jansson's business. */
static bool skip_scalar(struct scanner *sc)
{
    size_t start = sc->pos;
    while (sc->pos < sc->len && sc->s[sc->pos] &&
           strchr("0123456789+-.eEtruefalsn", sc->s[sc->pos]))
        sc->pos++;
    return sc->pos > start;
}

/* The innermost open container; only called while one is open. */
static struct frame *top(struct scanner *sc)
{
    return &sc->frames[sc->depth - 1];
}

static void report(struct scanner *sc, const char *message)
{
    if (sc->errs) {
        spec_errors_add(sc->errs, spec_path_str(&sc->path), "%s", message);
        sc->found++;
    }
}

/* On a member's key: decode it, check it is new, make it the path's last
 * segment, and consume the ':'. */
static bool read_member_key(struct scanner *sc, struct frame *f)
{
    buf_reset(&sc->key);
    spec_path_pop(&sc->path, f->path_base);
    if (sc->pos >= sc->len || sc->s[sc->pos] != '"' || !read_string(sc, &sc->key))
        return false;
    spec_path_push_key(&sc->path, sc->key.data ? sc->key.data : "", sc->key.len);
    if (reached(sc, sc->pos))
        return false;
    if (!keyset_add(&f->keys, sc->key.data ? sc->key.data : "", sc->key.len))
        report(sc, "duplicate key");
    skip_ws(sc);
    if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
        return false;
    sc->pos++;
    return true;
}

/* Position the path on the next child of the top frame; false when the
 * child is missing or malformed. */
static bool begin_child(struct scanner *sc)
{
    struct frame *f = top(sc);
    skip_ws(sc);
    if (f->is_object)
        return read_member_key(sc, f);
    spec_path_pop(&sc->path, f->path_base);
    spec_path_push_index(&sc->path, f->index);
    return true;
}

static void close_container(struct scanner *sc)
{
    struct frame *f = top(sc);
    spec_path_pop(&sc->path, f->path_base);
    keyset_free(&f->keys);
    sc->depth--;
}

enum step { STEP_FAIL, STEP_CHILD, STEP_DONE };

/* On '{' or '['. STEP_CHILD: positioned on the first child's value;
 * STEP_DONE: empty, positioned on the closing bracket. */
static enum step open_container(struct scanner *sc, bool is_object)
{
    if (sc->depth == SPEC_MAX_DEPTH) {
        char msg[64];
        snprintf(msg, sizeof(msg), "nesting deeper than %d levels", SPEC_MAX_DEPTH);
        report(sc, msg);
        return STEP_FAIL;
    }
    sc->frames[sc->depth++] = (struct frame){ .is_object = is_object, .path_base = sc->path.len };
    sc->pos++;
    skip_ws(sc);
    if (sc->pos < sc->len && sc->s[sc->pos] == (is_object ? '}' : ']'))
        return STEP_DONE;
    return begin_child(sc) ? STEP_CHILD : STEP_FAIL;
}

/* One value at sc->pos. Scalars are consumed (STEP_DONE); containers are
 * opened (see open_container). */
static enum step begin_value(struct scanner *sc)
{
    skip_ws(sc);
    if (sc->pos >= sc->len || reached(sc, sc->pos + 1))
        return STEP_FAIL;
    char c = sc->s[sc->pos];
    if (c == '{' || c == '[')
        return open_container(sc, c == '{');
    bool ok = c == '"' ? read_string(sc, NULL) : skip_scalar(sc);
    return ok && !reached(sc, sc->pos) ? STEP_DONE : STEP_FAIL;
}

/* After a value (or on an empty container's closing bracket): closing
 * brackets pop frames, a ',' positions on the next child (*more = true).
 * *more = false once the root value is complete. */
static bool after_value(struct scanner *sc, bool *more)
{
    for (;;) {
        if (sc->depth == 0) {
            *more = false;
            return true;
        }
        struct frame *f = top(sc);
        skip_ws(sc);
        if (sc->pos >= sc->len)
            return false;
        char c = sc->s[sc->pos];
        if (c == (f->is_object ? '}' : ']')) {
            sc->pos++;
            close_container(sc);
            if (reached(sc, sc->pos))
                return false;
            continue;
        }
        if (c != ',')
            return false;
        sc->pos++;
        f->index++;
        *more = true;
        return begin_child(sc);
    }
}

static void scan(struct scanner *sc)
{
    for (;;) {
        enum step st = begin_value(sc);
        if (st == STEP_FAIL)
            return;
        if (st == STEP_CHILD)
            continue;
        bool more;
        if (!after_value(sc, &more) || !more)
            return;
    }
}

static void scanner_free(struct scanner *sc)
{
    while (sc->depth)
        close_container(sc);
    buf_free(&sc->path);
    buf_free(&sc->key);
}

size_t spec_prescan(const char *bytes, size_t len, struct spec_errors *errs)
{
    struct scanner sc = { .s = bytes, .len = len, .stop_at = SIZE_MAX, .errs = errs };
    scan(&sc);
    size_t found = sc.found;
    scanner_free(&sc);
    return found;
}

char *spec_path_at_offset(const char *bytes, size_t len, size_t offset)
{
    struct scanner sc = { .s = bytes, .len = len, .stop_at = offset };
    scan(&sc);
    char *path = xstrdup(spec_path_str(&sc.path));
    scanner_free(&sc);
    return path;
}
