/* sink_jsonl.c: append events to a file, one line per write().
 *
 * Why the reservation: with O_APPEND a single write() lands atomically at the
 * end of the file relative to other appenders, but on a full disk the kernel
 * may write part of the line and return a short count. Reserving the blocks
 * first with fallocate(KEEP_SIZE) turns "disk full" into a clean failure
 * before any byte is written. Where fallocate is unsupported, a short write is
 * rolled back by truncating to the size seen before the write. The signing
 * thread hands over several lines at once (write_lines): one reservation and
 * one writev() for all of them, with the same all-or-nothing rule. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "event.h"

struct jsonl_sink {
    struct event_sink base;
    int fd;
    char *path;
};

static int sink_full(struct jsonl_sink *s, int errnum, struct cell_err *err)
{
    if (errnum == ENOSPC || errnum == EDQUOT)
        return cell_err_set(err, errnum, "sink_failed", "sink full: %s: %s", s->path,
                            strerror(errnum));
    return cell_err_set(err, errnum, "sink_failed", "sink write failed: %s: %s", s->path,
                        strerror(errnum));
}

/* One line (write) or several (writev): either way a single system call,
 * so the lines land together, after the space for all of them was
 * reserved. */
static ssize_t write_once(int fd, const struct iovec *lines, size_t n)
{
    ssize_t r;
    do
        r = n == 1 ? write(fd, lines[0].iov_base, lines[0].iov_len) : writev(fd, lines, (int)n);
    while (r < 0 && errno == EINTR);
    return r;
}

static int jsonl_write_lines(struct event_sink *self, const struct iovec *lines, size_t n,
                             struct cell_err *err)
{
    struct jsonl_sink *s = (struct jsonl_sink *)self;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += lines[i].iov_len;
    off_t end = lseek(s->fd, 0, SEEK_END);
    if (end >= 0) {
        int r = fallocate(s->fd, FALLOC_FL_KEEP_SIZE, end, (off_t)len);
        if (r < 0 && (errno == ENOSPC || errno == EDQUOT))
            return sink_full(s, errno, err);
    }
    ssize_t written = write_once(s->fd, lines, n);
    if (written == (ssize_t)len)
        return 0;
    int errnum = written < 0 ? errno : ENOSPC;
    if (written > 0 && end >= 0)
        (void)!ftruncate(s->fd, end); /* never leave a torn line behind */
    return sink_full(s, errnum, err);
}

static int jsonl_write(struct event_sink *self, const char *line, size_t len, struct cell_err *err)
{
    struct iovec one = { (void *)line, len };
    return jsonl_write_lines(self, &one, 1, err);
}

static int jsonl_flush(struct event_sink *self, struct cell_err *err)
{
    struct jsonl_sink *s = (struct jsonl_sink *)self;
    if (fdatasync(s->fd) < 0 && errno != EINVAL && errno != EROFS)
        return sink_full(s, errno, err);
    return 0;
}

static void jsonl_free(struct event_sink *self)
{
    struct jsonl_sink *s = (struct jsonl_sink *)self;
    if (s->fd >= 0)
        close(s->fd);
    free(s->path);
    free(s);
}

int sink_jsonl_open(const char *path, struct event_sink **out, struct cell_err *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0)
        return cell_err_set(err, errno, "sink_failed", "cannot open event file %s: %s", path,
                            strerror(errno));
    struct jsonl_sink *s = xcalloc(1, sizeof(*s));
    s->base = (struct event_sink){ .name = "jsonl", .write = jsonl_write,
                                   .write_lines = jsonl_write_lines, .flush = jsonl_flush,
                                   .free = jsonl_free };
    s->fd = fd;
    s->path = xstrdup(path);
    *out = &s->base;
    return 0;
}
