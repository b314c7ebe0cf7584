/* hostmatch.c: compile allowlist patterns into one open-addressing hash
 * table keyed by (lower-cased name, wildcard flag).
 *
 * The hash is FNV-1a over the name's bytes taken from the END towards the
 * start. A query then computes it in one right-to-left pass: whenever the
 * pass reaches a '.', the running value is the hash of the suffix to its
 * right, which is looked up as a wildcard base; at the start of the name the
 * running value is the hash of the whole name, looked up as a literal. So a
 * query costs O(length) plus one probe per label, and never allocates. */
#include "policy/hostmatch.h"

#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define WILDCARD_SALT 0x9e3779b97f4a7c15ULL

struct hm_slot {
    uint64_t hash;
    uint32_t off;       /* into arena */
    uint16_t len;       /* 0: empty slot */
    bool wildcard;
};

struct hostmatch {
    struct hm_slot *slots;
    size_t mask;        /* slots - 1, a power of two minus one */
    size_t count;
    char *arena;        /* lower-cased names, back to back */
    size_t arena_len;
};

static inline unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static inline uint64_t hash_step(uint64_t h, unsigned char c)
{
    return (h ^ fold(c)) * FNV_PRIME;
}

static inline uint64_t slot_hash(uint64_t h, bool wildcard)
{
    return wildcard ? h ^ WILDCARD_SALT : h;
}

static bool is_label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* The label rules shared by patterns and queried names. len excludes the
 * optional trailing dot, which the caller strips. */
static int check_labels(const char *s, size_t len, const char **why)
{
    if (len == 0) {
        *why = "must not be empty";
        return -EINVAL;
    }
    if (len > HOSTMATCH_NAME_MAX) {
        *why = "name longer than 253 characters";
        return -EINVAL;
    }
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0) {
                *why = "empty label";
                return -EINVAL;
            }
            label = 0;
        } else if (c == '*') {
            *why = "'*' is only allowed as the whole first label (*.example.com)";
            return -EINVAL;
        } else if (!is_label_char(c)) {
            *why = "invalid character (allowed: letters, digits, '-', '_', '.')";
            return -EINVAL;
        } else if (++label > HOSTMATCH_LABEL_MAX) {
            *why = "label longer than 63 characters";
            return -EINVAL;
        }
    }
    if (label == 0) {
        *why = "empty label";
        return -EINVAL;
    }
    return 0;
}

/* An all-digit last label means an IPv4 address (or a typo of one). */
static int check_not_numeric_tld(const char *s, size_t len, const char **why)
{
    size_t i = len;
    while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
        i--;
    if (i == 0 || s[i - 1] == '.') {
        *why = "last label is all digits: an IP address is not a hostname";
        return -EINVAL;
    }
    return 0;
}

static size_t strip_one_dot(const char *s, size_t len)
{
    return (len > 0 && s[len - 1] == '.') ? len - 1 : len;
}

/* A literal name whose trailing dot, if any, was already stripped. */
static int check_bare_name(const char *name, size_t len, const char **why)
{
    int r = check_labels(name, len, why);
    if (r < 0)
        return r;
    return check_not_numeric_tld(name, len, why);
}

int hostmatch_check_name(const char *name, size_t len, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!name) {
        *why = "must not be empty";
        return -EINVAL;
    }
    return check_bare_name(name, strip_one_dot(name, len), why);
}

/* Splits a pattern into (base name, wildcard) after checking it. */
static int parse_pattern(const char *p, const char **base, size_t *base_len, bool *wildcard,
                         const char **why)
{
    if (strcmp(p, "*.") == 0) {
        *why = "'*.' must be followed by a name";
        return -EINVAL;
    }
    size_t len = strip_one_dot(p, strlen(p));
    if (len == 0) {
        *why = "must not be empty";
        return -EINVAL;
    }
    bool wild = p[0] == '*';
    if (wild) {
        if (len == 1) {
            *why = "a bare '*' would admit every name; write *.example.com";
            return -EINVAL;
        }
        if (p[1] != '.') {
            *why = "'*' is only allowed as the whole first label (*.example.com)";
            return -EINVAL;
        }
        if (len == 2) {
            *why = "'*.' must be followed by a name";
            return -EINVAL;
        }
        if (len > HOSTMATCH_NAME_MAX) {
            *why = "name longer than 253 characters";
            return -EINVAL;
        }
    }
    const char *b = wild ? p + 2 : p;
    size_t blen = wild ? len - 2 : len;
    int r = check_bare_name(b, blen, why);
    if (r < 0)
        return r;
    *base = b;
    *base_len = blen;
    *wildcard = wild;
    return 0;
}

int hostmatch_check_pattern(const char *p, const char **why)
{
    const char *dummy, *base;
    size_t base_len;
    bool wildcard;
    if (!why)
        why = &dummy;
    if (!p) {
        *why = "must not be empty";
        return -EINVAL;
    }
    return parse_pattern(p, &base, &base_len, &wildcard, why);
}

static uint64_t reverse_hash(const char *s, size_t len)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = len; i > 0; i--)
        h = hash_step(h, (unsigned char)s[i - 1]);
    return h;
}

static bool slot_equals(const struct hostmatch *hm, const struct hm_slot *slot, uint64_t h,
                        bool wildcard, const char *s, size_t len)
{
    if (slot->hash != h || slot->len != len || slot->wildcard != wildcard)
        return false;
    const char *stored = hm->arena + slot->off;
    for (size_t i = 0; i < len; i++)
        if (stored[i] != (char)fold((unsigned char)s[i]))
            return false;
    return true;
}

static bool lookup(const struct hostmatch *hm, uint64_t name_hash, bool wildcard, const char *s,
                   size_t len)
{
    uint64_t h = slot_hash(name_hash, wildcard);
    for (size_t i = h & hm->mask;; i = (i + 1) & hm->mask) {
        const struct hm_slot *slot = &hm->slots[i];
        if (slot->len == 0)
            return false;
        if (slot_equals(hm, slot, h, wildcard, s, len))
            return true;
    }
}

static void insert(struct hostmatch *hm, const char *s, size_t len, bool wildcard)
{
    uint64_t h = slot_hash(reverse_hash(s, len), wildcard);
    size_t i = h & hm->mask;
    for (;; i = (i + 1) & hm->mask) {
        struct hm_slot *slot = &hm->slots[i];
        if (slot->len == 0)
            break;
        if (slot_equals(hm, slot, h, wildcard, s, len))
            return; /* duplicate pattern */
    }
    char *dst = hm->arena + hm->arena_len;
    for (size_t k = 0; k < len; k++)
        dst[k] = (char)fold((unsigned char)s[k]);
    hm->slots[i] = (struct hm_slot){ .hash = h, .off = (uint32_t)hm->arena_len,
                                     .len = (uint16_t)len, .wildcard = wildcard };
    hm->arena_len += len;
    hm->count++;
}

struct hostmatch *hostmatch_new(const char *const *patterns, size_t n, struct cell_err *err)
{
    size_t arena_size = 0;
    for (size_t i = 0; i < n; i++) {
        const char *why;
        if (hostmatch_check_pattern(patterns[i], &why) < 0) {
            cell_err_set(err, EINVAL, "invalid_spec", "hostname pattern '%s': %s",
                         patterns[i] ? patterns[i] : "", why);
            return NULL;
        }
        arena_size += strlen(patterns[i]);
    }
    if (n > (SIZE_MAX / 4) || arena_size > UINT32_MAX) {
        cell_err_set(err, E2BIG, "invalid_spec", "too many hostname patterns");
        return NULL;
    }
    /* Load factor at most 1/2 keeps probe chains short. */
    size_t slots = 8;
    while (slots < 2 * n)
        slots *= 2;
    struct hostmatch *hm = xcalloc(1, sizeof(*hm));
    hm->slots = xcalloc(slots, sizeof(*hm->slots));
    hm->mask = slots - 1;
    hm->arena = xcalloc(1, arena_size + 1);
    for (size_t i = 0; i < n; i++) {
        const char *base, *why;
        size_t base_len;
        bool wildcard;
        (void)parse_pattern(patterns[i], &base, &base_len, &wildcard, &why);
        insert(hm, base, base_len, wildcard);
    }
    return hm;
}

void hostmatch_free(struct hostmatch *hm)
{
    if (!hm)
        return;
    free(hm->slots);
    free(hm->arena);
    free(hm);
}

size_t hostmatch_count(const struct hostmatch *hm)
{
    return hm ? hm->count : 0;
}

bool hostmatch_allows(const struct hostmatch *hm, const char *name, size_t len)
{
    const char *why;
    if (!hm || !name || hm->count == 0)
        return false;
    len = strip_one_dot(name, len);
    if (check_labels(name, len, &why) < 0)
        return false;
    /* Right to left: at each '.', look the suffix up as a wildcard base. */
    uint64_t h = FNV_OFFSET;
    for (size_t i = len; i > 0; i--) {
        if (name[i - 1] == '.' && lookup(hm, h, true, name + i, len - i))
            return true;
        h = hash_step(h, (unsigned char)name[i - 1]);
    }
    return lookup(hm, h, false, name, len);
}
