/* base.h: the idioms every module shares: cleanup attributes, ownership
 * hand-off, the error record that tells a user why, and small helpers. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED __attribute__((unused))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership on: returns the value and leaves NULL / -1 behind so the
 * cleanup attribute of the source does nothing. */
#define TAKE_PTR(p) ({ __typeof__(p) _tp = (p); (p) = NULL; _tp; })
#define TAKE_FD(fd) ({ int _tf = (fd); (fd) = -1; _tf; })

/* Why something failed, for a user: errno (0 when not applicable), a stable
 * reason code from the contract (e.g. "isolation_failed"), and a message. */
struct cell_err {
    int errnum;
    const char *reason;
    char msg[512];
};

/* Fill *err (when non-NULL) and return -errnum (or -EINVAL when errnum is 0),
 * so callers can write `return cell_err_set(err, ...)`. */
int cell_err_set(struct cell_err *err, int errnum, const char *reason,
                 const char *fmt, ...) PRINTF_LIKE(4, 5);

/* Strict decimal parsing: the whole string, no sign unless allowed, no overflow. */
int parse_u64(const char *s, uint64_t *out);
int parse_i64(const char *s, int64_t *out);

/* strdup that aborts on OOM: allocation failure of a few bytes in the
 * supervisor is not a condition a cell can recover from meaningfully. */
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

bool str_has_prefix(const char *s, const char *prefix);
/* Copy of the environment variable or NULL when unset or empty. */
const char *env_nonempty(const char *name);

/* Full write / read loops over EINTR and short counts. */
ssize_t write_all(int fd, const void *buf, size_t len);
ssize_t read_all(int fd, void *buf, size_t len);
/* Read a whole file (or fd) into a NUL-terminated heap buffer, at most max bytes. */
int read_file_fd(int fd, size_t max, char **out, size_t *out_len);
int read_file_path(const char *path, size_t max, char **out, size_t *out_len);
