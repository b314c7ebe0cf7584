/* nft_cases.h: the golden rendering cases, shared by the pure tests (byte
 * comparison) and the root tests (each case must load into a real netns). */
#pragma once
#include "net/nft.h"

struct nft_case {
    const char *name;            /* tests/golden/nft/<name>.nft */
    struct nft_policy policy;
};

extern const struct nft_case nft_cases[];
extern const size_t nft_case_count;
