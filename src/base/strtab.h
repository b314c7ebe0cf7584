/* strtab.h: enums map to the contract's strings through one table each. */
#pragma once
#include "base.h"

struct strtab_entry {
    int value;
    const char *name;
};

/* NULL when value is not in the table. */
const char *strtab_name(const struct strtab_entry *tab, size_t n, int value);
/* -ENOENT when name is not in the table. */
int strtab_value(const struct strtab_entry *tab, size_t n, const char *name);
