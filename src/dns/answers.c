/* answers.c: the addresses of a DNS response's answer section (pure,
 * bounded) and the per-run "name -> addresses" table (see answers.h). */
#include "dns/answers.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define HEADER_LEN 12
#define NAME_WIRE_MAX 255
#define MAX_POINTER_HOPS 32
#define FLAG_QR 0x8000u
#define OPCODE_MASK 0x7800u
#define RCODE_MASK 0x000Fu
#define TYPE_A 1
#define TYPE_CNAME 5
#define TYPE_AAAA 28
#define CLASS_IN 1

/* A name in wire form, labels lower-cased, the final zero included. */
struct wname {
    uint8_t len;
    uint8_t b[NAME_WIRE_MAX];
};

struct rr {
    struct wname owner;
    uint16_t type, class;
    size_t rdata, rdlen;
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static uint8_t fold(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }

/* Decode the name at *pos into n; *pos moves past the name as written in
 * place (past the first pointer when there is one). Pointers must aim
 * before themselves and are followed at most MAX_POINTER_HOPS times; with
 * the 255-byte bound on the result, every decode ends quickly. */
static bool read_name(const uint8_t *msg, size_t len, size_t *pos, struct wname *n)
{
    size_t p = *pos, after = 0, out = 0;
    unsigned hops = 0;

    for (;;) {
        if (p >= len)
            return false;
        uint8_t l = msg[p];
        if ((l & 0xC0) == 0xC0) {
            if (len - p < 2 || ++hops > MAX_POINTER_HOPS)
                return false;
            size_t target = ((size_t)(l & 0x3F) << 8) | msg[p + 1];
            if (target >= p)
                return false;
            if (hops == 1)
                after = p + 2;
            p = target;
            continue;
        }
        if (l & 0xC0)
            return false;   /* extended label types: none in use */
        if (out + 1 + l > NAME_WIRE_MAX || len - p - 1 < l)
            return false;
        n->b[out++] = l;
        for (size_t i = 0; i < l; i++)
            n->b[out++] = fold(msg[p + 1 + i]);
        p += 1 + (size_t)l;
        if (l == 0)
            break;
    }
    n->len = (uint8_t)out;
    *pos = hops ? after : p;
    return true;
}

static bool name_eq(const struct wname *a, const struct wname *b)
{
    return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

struct chain {
    struct wname names[DNS_ANSWERS_MAX_NAMES];
    size_t n;
};

static bool on_chain(const struct chain *c, const struct wname *n)
{
    for (size_t i = 0; i < c->n; i++)
        if (name_eq(&c->names[i], n))
            return true;
    return false;
}

/* One answer record: owner, fixed fields, rdata in bounds; a CNAME's target
 * must fill its rdata exactly, an IN A/AAAA must have the right length. */
static bool read_rr(const uint8_t *msg, size_t len, size_t *pos, struct rr *r)
{
    if (!read_name(msg, len, pos, &r->owner) || len - *pos < 10)
        return false;
    const uint8_t *f = msg + *pos;
    r->type = get16(f);
    r->class = get16(f + 2);
    r->rdlen = get16(f + 8);
    r->rdata = *pos + 10;
    if (len - r->rdata < r->rdlen)
        return false;
    *pos = r->rdata + r->rdlen;
    if (r->class != CLASS_IN)
        return true;
    if (r->type == TYPE_A)
        return r->rdlen == 4;
    if (r->type == TYPE_AAAA)
        return r->rdlen == 16;
    if (r->type == TYPE_CNAME) {
        struct wname target;
        size_t t = r->rdata;
        return read_name(msg, len, &t, &target) && t == r->rdata + r->rdlen;
    }
    return true;
}

/* Grow the chain along CNAMEs until it stops changing. */
static void follow_cnames(const uint8_t *msg, size_t len, const struct rr *rrs, size_t n,
                          struct chain *c, bool *truncated)
{
    bool grew = true;
    while (grew) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (rrs[i].type != TYPE_CNAME || rrs[i].class != CLASS_IN ||
                !on_chain(c, &rrs[i].owner))
                continue;
            struct wname target;
            size_t t = rrs[i].rdata;
            (void)read_name(msg, len, &t, &target);  /* checked by read_rr */
            if (on_chain(c, &target))
                continue;
            if (c->n == DNS_ANSWERS_MAX_NAMES) {
                *truncated = true;
                continue;
            }
            c->names[c->n++] = target;
            grew = true;
        }
    }
}

static void add_addr(struct dns_answer_addrs *o, int family, const uint8_t *a, size_t alen)
{
    struct dns_addr x = { .family = family };
    memcpy(x.addr, a, alen);
    for (size_t i = 0; i < o->n; i++)
        if (o->addrs[i].family == family && memcmp(o->addrs[i].addr, x.addr, 16) == 0)
            return;
    if (o->n == DNS_ANSWERS_MAX_ADDRS) {
        o->truncated = true;
        return;
    }
    o->addrs[o->n++] = x;
}

int dns_answers_extract(const uint8_t *msg, size_t len, struct dns_answer_addrs *out)
{
    if (!msg || len < HEADER_LEN)
        return -EBADMSG;
    uint16_t flags = get16(msg + 2), qd = get16(msg + 4), an = get16(msg + 6);
    if (!(flags & FLAG_QR) || (flags & OPCODE_MASK) || qd != 1)
        return -EBADMSG;
    struct chain c = { .n = 1 };
    size_t pos = HEADER_LEN;
    if (!read_name(msg, len, &pos, &c.names[0]) || len - pos < 4 ||
        get16(msg + pos + 2) != CLASS_IN)
        return -EBADMSG;
    pos += 4;

    struct dns_answer_addrs o = { 0 };
    struct rr rrs[DNS_ANSWERS_MAX_RR];
    size_t n = 0;
    if ((flags & RCODE_MASK) == 0) {
        for (; n < an && n < DNS_ANSWERS_MAX_RR; n++)
            if (!read_rr(msg, len, &pos, &rrs[n]))
                return -EBADMSG;
        o.truncated = an > DNS_ANSWERS_MAX_RR;
    }
    follow_cnames(msg, len, rrs, n, &c, &o.truncated);
    for (size_t i = 0; i < n; i++) {
        const struct rr *r = &rrs[i];
        if (r->class != CLASS_IN || !on_chain(&c, &r->owner))
            continue;
        if (r->type == TYPE_A)
            add_addr(&o, AF_INET, msg + r->rdata, 4);
        else if (r->type == TYPE_AAAA)
            add_addr(&o, AF_INET6, msg + r->rdata, 16);
    }
    o.n_names = c.n;
    *out = o;
    return (int)o.n;
}

/* ---- the table ------------------------------------------------------------- */

/* Two open-addressing hash tables: interned names (id = index + 1) and
 * (name id, family, address) pairs. Both grow by doubling at half load. */
struct pair {
    uint32_t name_id;              /* 0: empty slot */
    uint8_t family;
    uint8_t addr[16];
};

struct dns_resolved {
    size_t max_pairs;
    uint64_t dropped;
    char **names;
    size_t n_names;
    uint32_t *name_slots;          /* name ids, 0 = empty */
    size_t name_cap;               /* power of two */
    struct pair *pairs;
    size_t n_pairs, pair_cap;      /* power of two */
};

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

#define FNV_SEED 0xcbf29ce484222325ull

static uint64_t pair_hash(uint32_t id, uint8_t family, const uint8_t addr[16])
{
    uint64_t h = fnv(FNV_SEED, &id, sizeof(id));
    h = fnv(h, &family, 1);
    return fnv(h, addr, 16);
}

struct dns_resolved *dns_resolved_new(size_t max_pairs)
{
    struct dns_resolved *t = xcalloc(1, sizeof(*t));
    t->max_pairs = max_pairs ? max_pairs : DNS_RESOLVED_DEFAULT_MAX;
    t->name_cap = 64;
    t->name_slots = xcalloc(t->name_cap, sizeof(*t->name_slots));
    t->pair_cap = 64;
    t->pairs = xcalloc(t->pair_cap, sizeof(*t->pairs));
    return t;
}

void dns_resolved_free(struct dns_resolved *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_names; i++)
        free(t->names[i]);
    free(t->names);
    free(t->name_slots);
    free(t->pairs);
    free(t);
}

/* The slot holding name, or the empty slot where it would go. */
static size_t name_slot(const struct dns_resolved *t, const char *name)
{
    size_t mask = t->name_cap - 1, i = fnv(FNV_SEED, name, strlen(name)) & mask;
    while (t->name_slots[i] && strcmp(t->names[t->name_slots[i] - 1], name) != 0)
        i = (i + 1) & mask;
    return i;
}

static size_t pair_slot(const struct dns_resolved *t, uint32_t id, uint8_t family,
                        const uint8_t addr[16])
{
    size_t mask = t->pair_cap - 1, i = pair_hash(id, family, addr) & mask;
    for (;; i = (i + 1) & mask) {
        const struct pair *p = &t->pairs[i];
        if (!p->name_id ||
            (p->name_id == id && p->family == family && memcmp(p->addr, addr, 16) == 0))
            return i;
    }
}

static void grow_names(struct dns_resolved *t)
{
    free(t->name_slots);
    t->name_cap *= 2;
    t->name_slots = xcalloc(t->name_cap, sizeof(*t->name_slots));
    for (size_t id = 1; id <= t->n_names; id++)
        t->name_slots[name_slot(t, t->names[id - 1])] = (uint32_t)id;
}

static void grow_pairs(struct dns_resolved *t)
{
    struct pair *old = t->pairs;
    size_t old_cap = t->pair_cap;
    t->pair_cap *= 2;
    t->pairs = xcalloc(t->pair_cap, sizeof(*t->pairs));
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].name_id)
            t->pairs[pair_slot(t, old[i].name_id, old[i].family, old[i].addr)] = old[i];
    free(old);
}

static uint32_t intern(struct dns_resolved *t, const char *name)
{
    size_t s = name_slot(t, name);
    if (t->name_slots[s])
        return t->name_slots[s];
    if (2 * (t->n_names + 1) > t->name_cap) {
        grow_names(t);
        s = name_slot(t, name);
    }
    t->names = xrealloc(t->names, (t->n_names + 1) * sizeof(*t->names));
    t->names[t->n_names++] = xstrdup(name);
    t->name_slots[s] = (uint32_t)t->n_names;
    return (uint32_t)t->n_names;
}

static bool family_ok(int family) { return family == AF_INET || family == AF_INET6; }

int dns_resolved_add(struct dns_resolved *t, const char *name, const struct dns_addr *a)
{
    if (!name || !*name || !family_ok(a->family))
        return -EINVAL;
    uint8_t key[16] = { 0 };
    memcpy(key, a->addr, a->family == AF_INET ? 4 : 16);
    if (dns_resolved_has(t, name, a->family, key))
        return 0;
    if (t->n_pairs >= t->max_pairs) {
        t->dropped++;
        return -ENOSPC;
    }
    uint32_t id = intern(t, name);
    if (2 * (t->n_pairs + 1) > t->pair_cap)
        grow_pairs(t);
    struct pair *p = &t->pairs[pair_slot(t, id, (uint8_t)a->family, key)];
    p->name_id = id;
    p->family = (uint8_t)a->family;
    memcpy(p->addr, key, 16);
    t->n_pairs++;
    return 1;
}

int dns_resolved_add_response(struct dns_resolved *t, const char *name, const uint8_t *msg,
                              size_t len)
{
    struct dns_answer_addrs o;
    int n = dns_answers_extract(msg, len, &o);
    if (n < 0)
        return n;
    int added = 0;
    for (size_t i = 0; i < o.n; i++)
        added += dns_resolved_add(t, name, &o.addrs[i]) == 1;
    return added;
}

bool dns_resolved_has(const struct dns_resolved *t, const char *name, int family,
                      const void *addr)
{
    if (!t || !name || !family_ok(family))
        return false;
    size_t s = name_slot(t, name);
    if (!t->name_slots[s])
        return false;
    uint8_t key[16] = { 0 };
    memcpy(key, addr, family == AF_INET ? 4 : 16);
    return t->pairs[pair_slot(t, t->name_slots[s], (uint8_t)family, key)].name_id != 0;
}

void dns_resolved_get_counts(const struct dns_resolved *t, struct dns_resolved_counts *out)
{
    *out = (struct dns_resolved_counts){ 0 };
    if (!t)
        return;
    out->names = t->n_names;
    out->pairs = t->n_pairs;
    out->dropped = t->dropped;
}
