/* spec-internal.h: what the files of src/spec share; not for other modules. */
#pragma once
#include <jansson.h>

#include "base/buf.h"
#include "base/strtab.h"
#include "spec/spec.h"

/* ---- paths (errors.c) ----
 * A JSON path is built in a struct buf: object keys as `a.b`, array indices
 * as `[2]`. Keys that are not plain identifiers render as `["k e y"]` with
 * control and non-ASCII bytes as \xHH, cut after SPEC_PATH_KEY_MAX bytes. */
#define SPEC_PATH_KEY_MAX 64
#define SPEC_ROOT_PATH "(document)"

size_t spec_path_push_key(struct buf *path, const char *key, size_t len);
size_t spec_path_push_index(struct buf *path, size_t index);
void spec_path_pop(struct buf *path, size_t old_len);
/* The path as text, SPEC_ROOT_PATH when it is empty. */
const char *spec_path_str(const struct buf *path);

/* Append one error (copies path and message). Past SPEC_MAX_ERRORS a single
 * "too many errors" entry is added and further errors are dropped. */
void spec_errors_add(struct spec_errors *errs, const char *path, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/* ---- byte pre-scan (scan.c) ----
 * One bounded, non-recursive pass over the raw bytes, before jansson sees
 * them: reports every duplicate key and the first place nesting exceeds
 * SPEC_MAX_DEPTH, each with its path. Stops quietly at a syntax error
 * (jansson reports those). Returns the number of errors added. */
size_t spec_prescan(const char *bytes, size_t len, struct spec_errors *errs);
/* The path of the value being read at byte offset `offset` (for jansson's
 * error positions). Heap string, never NULL, never empty. */
char *spec_path_at_offset(const char *bytes, size_t len, size_t offset);

/* ---- single values (values.c) ----
 * Each returns 0, or -EINVAL with *why set to a static message. */
int spec_check_id(const char *s, const char **why);
int spec_parse_egress_host(const char *s, struct egress_rule *rule, const char **why);
int spec_parse_endpoint(const char *s, struct dns_resolver *res, const char **why);
int spec_parse_user(const char *s, struct run_user *user, const char **why);
int spec_check_abs_path(const char *s, const char **why);
int spec_check_safe_segment(const char *s, const char **why);
int spec_check_secret_key(const char *s, const char **why);

/* ---- name tables of the spec's enums (spec.c) ---- */
extern const struct strtab_entry spec_net_protos[2];
extern const struct strtab_entry spec_resolver_protos[2];
extern const struct strtab_entry spec_secret_deliveries[2];

/* ---- the schema walk (schema.c) ---- */
void spec_validate_tree(json_t *root, struct cell_spec *spec, struct spec_errors *errs);
