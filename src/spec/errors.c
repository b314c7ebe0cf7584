/* errors.c: JSON paths and the error list of spec_parse(). */
#include <stdio.h>
#include <string.h>

#include "spec/spec-internal.h"

static bool is_plain_key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '$';
}

static bool is_plain_key(const char *key, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_plain_key_char((unsigned char)key[i]))
            return false;
    return true;
}

/* A key that could confuse a reader (dots, quotes, control bytes, anything
 * a terminal might interpret) is shown quoted and escaped, and cut short:
 * the path names a place, it need not reproduce a hostile key in full. */
static void append_quoted_key(struct buf *b, const char *key, size_t len)
{
    size_t shown = len > SPEC_PATH_KEY_MAX ? SPEC_PATH_KEY_MAX : len;
    buf_puts(b, "[\"");
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            buf_printf(b, "\\x%02x", c);
        else
            buf_putc(b, (char)c);
    }
    if (shown < len)
        buf_puts(b, "...");
    buf_puts(b, "\"]");
}

size_t spec_path_push_key(struct buf *path, const char *key, size_t len)
{
    size_t old = path->len;
    if (is_plain_key(key, len) && len <= SPEC_PATH_KEY_MAX) {
        if (path->len)
            buf_putc(path, '.');
        buf_append(path, key, len);
    } else {
        append_quoted_key(path, key, len);
    }
    return old;
}

size_t spec_path_push_index(struct buf *path, size_t index)
{
    size_t old = path->len;
    buf_printf(path, "[%zu]", index);
    return old;
}

void spec_path_pop(struct buf *path, size_t old_len)
{
    path->len = old_len;
    if (path->data)
        path->data[old_len] = '\0';
}

const char *spec_path_str(const struct buf *path)
{
    return path->len ? path->data : SPEC_ROOT_PATH;
}

static void push_error(struct spec_errors *errs, char *path, char *message)
{
    errs->items = xrealloc(errs->items, (errs->n + 1) * sizeof(*errs->items));
    errs->items[errs->n++] = (struct spec_error){ .path = path, .message = message };
}

void spec_errors_add(struct spec_errors *errs, const char *path, const char *fmt, ...)
{
    if (errs->n > SPEC_MAX_ERRORS)
        return;
    if (errs->n == SPEC_MAX_ERRORS) {
        push_error(errs, xstrdup(SPEC_ROOT_PATH),
                   xasprintf("more than %d errors; the rest are not shown", SPEC_MAX_ERRORS));
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *message = NULL;
    if (vasprintf(&message, fmt, ap) < 0)
        message = NULL;
    va_end(ap);
    if (!message)
        message = xstrdup("(out of memory)");
    push_error(errs, xstrdup(path && *path ? path : SPEC_ROOT_PATH), message);
}

void spec_errors_free(struct spec_errors *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++) {
        free(errs->items[i].path);
        free(errs->items[i].message);
    }
    free(errs->items);
    errs->items = NULL;
    errs->n = 0;
}
