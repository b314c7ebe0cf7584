#include "timeutil.h"

#include <stdio.h>
#include <time.h>

uint64_t now_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static char *put_digits(char *p, unsigned value, int width)
{
    for (int i = width - 1; i >= 0; i--, value /= 10)
        p[i] = (char)('0' + value % 10);
    return p + width;
}

/* Formatted by hand: strftime would call tzset() and read /etc/localtime on
 * every process start, for a UTC timestamp that needs no zone. */
void now_rfc3339(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char *p = put_digits(out, (unsigned)(tm.tm_year + 1900) % 10000u, 4);
    *p++ = '-';
    p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put_digits(p, (unsigned)tm.tm_mday, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)tm.tm_min, 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)tm.tm_sec, 2);
    *p++ = '.';
    p = put_digits(p, (unsigned)(ts.tv_nsec / 1000000L), 3);
    *p++ = 'Z';
    *p = '\0';
}
