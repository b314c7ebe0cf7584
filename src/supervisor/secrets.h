/* secrets.h: resolving spec.authority.secretRefs through the configured
 * broker. Values live in sodium_malloc'd memory (guard pages, mlock) and are
 * wiped when freed; they never reach an event or a log line. */
#pragma once
#include "base/base.h"
#include "config.h"

struct secret {
    char *key;      /* as in secretRefs */
    char *env_name; /* the workload's variable: the key itself */
    char *value;    /* sodium_malloc'd, NUL-terminated */
    size_t len;
};

struct secret_set {
    struct secret *items;
    size_t n;
};

/* env broker: CELLOS_SECRET_<K> (K upper-cased, '-' -> '_').
 * file broker: the file named by CELLOS_SECRET_FILE_<K>, opened O_NOFOLLOW,
 * one trailing newline stripped. A missing secret is an error naming the key
 * and the variable to set (never the value). */
int secrets_resolve(enum secret_broker broker, getenv_fn get, char *const *keys, size_t n_keys,
                    struct secret_set *out, struct cell_err *err);
void secrets_free(struct secret_set *set);

/* The variable a key is looked up in: CELLOS_SECRET_<K> or CELLOS_SECRET_FILE_<K>. */
char *secret_variable_name(enum secret_broker broker, const char *key);
