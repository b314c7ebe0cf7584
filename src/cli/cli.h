/* cli.h: helpers shared by the CLI verbs. */
#pragma once
#include "base/base.h"

/* Read a spec from a path or "-" (stdin), bounded by SPEC_MAX_BYTES; logs
 * the error. */
int cli_read_spec(const char *path, char **bytes, size_t *len);

struct cell_spec;
/* Read and parse a spec, logging every error with its path; -EINVAL when
 * it cannot be read or is invalid (the verbs then exit 2). */
int cli_load_spec(const char *path, struct cell_spec **out);

/* Verbs implemented beside their modules. */
int cmd_verify(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_reconcile(int argc, char **argv);
