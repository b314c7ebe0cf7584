/* hostmatch.h: the one hostname allowlist matcher.
 *
 * The DNS proxy, the SNI/HTTP proxy and the policy checks all decide "is this
 * name allowed" here, so they can never disagree. Patterns are compiled once;
 * hostmatch_allows() then runs per query without allocating.
 *
 * Pattern syntax (hostmatch_check_pattern is the single definition):
 *   - a literal name `api.example.com`, or `*.` followed by a name;
 *   - labels of 1..63 characters from [A-Za-z0-9_-], the name at most 253
 *     characters (one trailing '.' is allowed and ignored);
 *   - '*' only as the whole first label of a wildcard (`*`, `*.`, `a.*.b`,
 *     `**.x`, `*x.com` are invalid);
 *   - the last label must not be all digits (that is an IPv4 address, which
 *     belongs in egressRules, not in a hostname allowlist).
 *
 * Matching: ASCII case-insensitive; ONE trailing dot of the name is ignored;
 * a literal matches exactly that name, never a subdomain; `*.x.com` matches
 * names with one or more labels in front of `x.com`, never `x.com` itself.
 * A name that is not itself a well-formed hostname (empty labels, bytes
 * outside [A-Za-z0-9_-.], too long) never matches. */
#pragma once
#include "base/base.h"

#define HOSTMATCH_NAME_MAX 253
#define HOSTMATCH_LABEL_MAX 63

struct hostmatch;

/* Compile n patterns (duplicates are fine). Returns NULL and fills err (reason
 * "invalid_spec") when a pattern is invalid. Zero patterns admit nothing. */
struct hostmatch *hostmatch_new(const char *const *patterns, size_t n, struct cell_err *err);
void hostmatch_free(struct hostmatch *hm);

/* Whether name[0..len) is admitted. name need not be NUL-terminated. */
bool hostmatch_allows(const struct hostmatch *hm, const char *name, size_t len);

/* Number of distinct patterns compiled. */
size_t hostmatch_count(const struct hostmatch *hm);

/* 0 when p is a valid allowlist pattern; otherwise -EINVAL and *why (when
 * non-NULL) points to a static, user-readable reason such as
 * "'*' is only allowed as the whole first label (*.example.com)". */
int hostmatch_check_pattern(const char *p, const char **why);

/* 0 when name[0..len) is a valid literal hostname (the pattern rules
 * without the wildcard), e.g. an egress rule's host; else -EINVAL, *why. */
int hostmatch_check_name(const char *name, size_t len, const char **why);

static inline void hostmatch_freep(struct hostmatch **hm) { hostmatch_free(*hm); }
#define _cleanup_hostmatch_ _cleanup_(hostmatch_freep)
