#include "secrets.h"

#include <ctype.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>

char *secret_variable_name(enum secret_broker broker, const char *key)
{
    const char *prefix = broker == BROKER_FILE ? "CELLOS_SECRET_FILE_" : "CELLOS_SECRET_";
    char *name = xasprintf("%s%s", prefix, key);
    for (char *p = name + strlen(prefix); *p; p++)
        *p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    return name;
}

static char *secure_copy(const char *data, size_t len)
{
    char *v = sodium_malloc(len + 1);
    if (!v)
        abort();
    memcpy(v, data, len);
    v[len] = '\0';
    return v;
}

static int read_secret_file(const char *path, const char *key, char **value, size_t *len,
                            struct cell_err *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return cell_err_set(err, errno, "secret_unavailable",
                            "secret %s: cannot open %s: %s", key, path, strerror(errno));
    char *data = NULL;
    size_t n = 0;
    int r = read_file_fd(fd, 1 << 20, &data, &n);
    if (r < 0)
        return cell_err_set(err, -r, "secret_unavailable", "secret %s: cannot read %s: %s",
                            key, path, strerror(-r));
    if (n && data[n - 1] == '\n')
        n--;
    *value = secure_copy(data, n);
    *len = n;
    sodium_memzero(data, n);
    free(data);
    return 0;
}

static int resolve_one(enum secret_broker broker, getenv_fn get, const char *key,
                       struct secret *s, struct cell_err *err)
{
    _cleanup_free_ char *var = secret_variable_name(broker, key);
    const char *v = get(var);
    if (!v || (broker == BROKER_FILE && !*v))
        return cell_err_set(err, ENOENT, "secret_unavailable",
                            "secret %s is not available: set %s", key, var);
    s->key = xstrdup(key);
    s->env_name = xstrdup(key);
    if (broker == BROKER_FILE)
        return read_secret_file(v, key, &s->value, &s->len, err);
    s->len = strlen(v);
    s->value = secure_copy(v, s->len);
    return 0;
}

int secrets_resolve(enum secret_broker broker, getenv_fn get, char *const *keys, size_t n_keys,
                    struct secret_set *out, struct cell_err *err)
{
    struct secret_set set = { .items = xcalloc(n_keys, sizeof(struct secret)), .n = 0 };
    for (size_t i = 0; i < n_keys; i++) {
        int r = resolve_one(broker, get, keys[i], &set.items[i], err);
        set.n = i + 1;
        if (r < 0) {
            secrets_free(&set);
            return r;
        }
    }
    *out = set;
    return 0;
}

void secrets_free(struct secret_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->items[i].key);
        free(set->items[i].env_name);
        if (set->items[i].value)
            sodium_free(set->items[i].value);
    }
    free(set->items);
    set->items = NULL;
    set->n = 0;
}
