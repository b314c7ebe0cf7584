/* answers.h: the addresses a DNS response gives for its question, and the
 * per-run table of what the DNS proxy returned ("name -> addresses").
 *
 * Why: the L7 proxy admits a flow to an allowed name only towards an address
 * the DNS proxy returned for that very name during the run (or one an
 * egressRules entry allows), so that a workload cannot present an allowed
 * SNI or Host to a forbidden address. The DNS proxy feeds every upstream
 * answer it relays into the table; the L7 proxy asks it.
 *
 * Extraction rules (dns_answers_extract), kept simple on purpose:
 *  - only a response (QR=1) with rcode NOERROR, opcode QUERY and exactly one
 *    question of class IN is read; the question name is the chain's start;
 *  - only the answer section is read (authority and additional records are
 *    never trusted); at most DNS_ANSWERS_MAX_RR of its records are looked at;
 *  - a CNAME of class IN whose owner is on the chain adds its target to the
 *    chain (whatever the order of the records; at most DNS_ANSWERS_MAX_NAMES
 *    names in all);
 *  - every A (rdlength 4) and AAAA (rdlength 16) of class IN whose owner is
 *    on the chain is an address of the question name;
 *  - names compare case-insensitively in wire form; compression pointers are
 *    followed only backwards (each pointer must aim before itself), so every
 *    name decodes in bounded time; a decoded name is at most 255 bytes;
 *  - any malformation in the header, the question or any answer record
 *    (cut record, bad label, forward pointer, an A whose rdlength is not 4)
 *    rejects the whole message: nothing is recorded from it.
 * TTLs are ignored: an address, once returned, stays admitted for the run.
 *
 * Pure and bounded; no allocation in the extraction. The fuzz target
 * tests/fuzz/dnsanswers checks these rules against a naive re-reading. */
#pragma once
#include "base/base.h"

#define DNS_ANSWERS_MAX_ADDRS 32   /* addresses kept per response */
#define DNS_ANSWERS_MAX_RR 64      /* answer records examined */
#define DNS_ANSWERS_MAX_NAMES 8    /* question name + CNAME targets followed */

struct dns_addr {
    int family;                    /* AF_INET or AF_INET6 */
    uint8_t addr[16];              /* network order; IPv4 in the first 4 bytes */
};

struct dns_answer_addrs {
    size_t n;                      /* addresses found (duplicates removed) */
    struct dns_addr addrs[DNS_ANSWERS_MAX_ADDRS];
    size_t n_names;                /* names on the chain, the question's included */
    bool truncated;                /* more addresses or records than the bounds */
};

/* Read msg[0..len) as above. Returns the number of addresses (0 is fine:
 * NXDOMAIN, NODATA, a refused or failed answer) and fills *out, or -EBADMSG
 * for a message that is not a readable response (out untouched). */
int dns_answers_extract(const uint8_t *msg, size_t len, struct dns_answer_addrs *out);

/* ---- the per-run table ----------------------------------------------------- */

#define DNS_RESOLVED_DEFAULT_MAX 65536   /* (name, address) pairs */

struct dns_resolved;

/* max_pairs: the most (name, address) pairs kept (0: the default). Once
 * full, further pairs are dropped (counted): the table fails closed, an
 * address it could not record is simply not admitted. */
struct dns_resolved *dns_resolved_new(size_t max_pairs);
void dns_resolved_free(struct dns_resolved *t);

/* Record that name (lower case, no trailing dot, as the DNS proxy decoded
 * the question) resolved to a. 1 when new, 0 when already known, -ENOSPC
 * when the table is full, -EINVAL for an empty name or a bad family. */
int dns_resolved_add(struct dns_resolved *t, const char *name, const struct dns_addr *a);

/* Extract a response's addresses and record them under name. The number of
 * new pairs, or -EBADMSG (nothing recorded). */
int dns_resolved_add_response(struct dns_resolved *t, const char *name, const uint8_t *msg,
                              size_t len);

/* Whether name was answered with the address addr (4 or 16 bytes by family).
 * name is compared exactly: callers pass names normalised the same way. */
bool dns_resolved_has(const struct dns_resolved *t, const char *name, int family,
                      const void *addr);

struct dns_resolved_counts {
    size_t names, pairs;
    uint64_t dropped;              /* pairs refused because the table was full */
};
void dns_resolved_get_counts(const struct dns_resolved *t, struct dns_resolved_counts *out);

static inline void dns_resolved_freep(struct dns_resolved **t) { dns_resolved_free(*t); }
#define _cleanup_dns_resolved_ _cleanup_(dns_resolved_freep)
