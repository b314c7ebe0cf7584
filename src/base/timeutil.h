/* timeutil.h: clocks and time formatting. */
#pragma once
#include "base.h"

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t now_mono_ms(void);
/* The current UTC time as RFC 3339 with milliseconds: 2026-11-24T22:58:39.123Z.
 * out must hold at least 32 bytes. */
void now_rfc3339(char out[32]);
