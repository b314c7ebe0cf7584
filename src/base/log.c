#include "log.h"

#include <stdio.h>
#include <string.h>

static enum log_level current_level = LOG_INFO;

void log_set_level(enum log_level level) { current_level = level; }

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > current_level)
        return;
    /* One write per message so lines from concurrent processes do not interleave. */
    char line[2048];
    int n = snprintf(line, sizeof(line), "cellos: %s",
                     level == LOG_WARN ? "warning: " : "");
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strnlen(line, sizeof(line) - 2);
    line[len++] = '\n';
    (void)write_all(2, line, len);
}
