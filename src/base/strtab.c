#include "strtab.h"

#include <string.h>

const char *strtab_name(const struct strtab_entry *tab, size_t n, int value)
{
    for (size_t i = 0; i < n; i++)
        if (tab[i].value == value)
            return tab[i].name;
    return NULL;
}

int strtab_value(const struct strtab_entry *tab, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].name, name) == 0)
            return tab[i].value;
    return -ENOENT;
}
