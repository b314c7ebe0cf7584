/* canon.h: RFC 8785 (JSON Canonicalization Scheme, JCS) over jansson values.
 *
 * The canonical bytes of a value are what cellos signs and hashes, so two
 * independent implementations must produce them byte for byte:
 *   - objects: members sorted by their names compared as UTF-16 code units
 *     (not UTF-8 bytes: U+E000..U+FFFF sort *after* U+10000 and above),
 *     no whitespace anywhere;
 *   - strings: only \b \t \n \f \r \" \\ and \u00xx (lower-case hex) for the
 *     other controls below U+0020; everything else is literal UTF-8;
 *   - numbers: ECMAScript Number.prototype.toString of the IEEE-754 double,
 *     i.e. the shortest digits that read back to the same double, plain
 *     notation for 1e-7 < |x| < 1e21, otherwise d[.ddd]e(+|-)n; -0 is "0".
 *     Integers are numbers too: beyond +-2^53 they are rounded to the
 *     nearest double exactly as any JCS implementation must do;
 *   - NaN and the infinities cannot be represented and are refused. */
#pragma once
#include <jansson.h>

#include "base/base.h"
#include "base/buf.h"

/* Deeper nesting is refused (the recursion stays bounded whatever the input). */
#define CANON_MAX_DEPTH 128

/* Longest ES number text: "-1.2345678901234567e-308" and a NUL fit easily. */
#define CANON_NUMBER_MAX 32

/* Append the canonical bytes of v to out. On failure out is left as it was
 * and the error says why: -EDOM (NaN/Infinity), -ELOOP (nesting deeper than
 * CANON_MAX_DEPTH), -EINVAL (a value that is not JSON, or a string that is
 * not valid UTF-8). */
int json_canon(const json_t *v, struct buf *out, struct cell_err *err);

/* The ECMAScript text of a double (the JCS number rule). -EDOM for NaN or an
 * infinity. out must hold CANON_NUMBER_MAX bytes. */
int canon_number(double d, char out[CANON_NUMBER_MAX]);

/* Compare two UTF-8 strings as sequences of UTF-16 code units (the JCS
 * member order): <0, 0 or >0 like strcmp. Both must be valid UTF-8. */
int canon_utf16_cmp(const char *a, size_t alen, const char *b, size_t blen);
