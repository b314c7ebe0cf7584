/* supervisor.h: one cell's lifecycle, from spec bytes to exit status:
 * validate -> configure -> open sinks -> resolve secrets -> started ->
 * spawn -> run (one epoll loop) -> report -> teardown -> destroyed. */
#pragma once
#include "base/base.h"

/* Runs one cell from the spec bytes (the digest in the started event is over
 * exactly these bytes) and returns the process exit status of CONTRACT
 * section 6. Errors are printed on stderr as `cellos: <what>: <why>`. */
int supervisor_run(const char *spec_bytes, size_t spec_len);
