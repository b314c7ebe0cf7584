/* tap.h: a tiny TAP producer for unit tests.
 *
 *   TEST(name) { ok(expr, "what"); is_str(a, b, "what"); }
 *   int main(void) { return tap_run(); }
 *
 * Tests register themselves through a constructor; tap_run() runs them in
 * order of definition and prints "1..N" then one "ok"/"not ok" line each.
 * A test fails when any of its checks fails; the failed check is printed as
 * a TAP diagnostic with its file and line. */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <inttypes.h>

typedef void (*tap_fn)(void);
struct tap_test { const char *name; tap_fn fn; };

#define TAP_MAX_TESTS 1024
extern struct tap_test tap_tests[TAP_MAX_TESTS];
extern int tap_ntests;
extern int tap_current_failed;
extern const char *tap_skip_reason;

#define TEST(name)                                                              \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void register_##name(void)             \
    {                                                                          \
        if (tap_ntests < TAP_MAX_TESTS)                                        \
            tap_tests[tap_ntests++] = (struct tap_test){ #name, test_##name }; \
    }                                                                          \
    static void test_##name(void)

#define TAP_FAIL(...)                                                          \
    do {                                                                       \
        tap_current_failed = 1;                                                \
        printf("# %s:%d: ", __FILE__, __LINE__);                               \
        printf(__VA_ARGS__);                                                   \
        printf("\n");                                                          \
    } while (0)

#define ok(expr, ...)                                                          \
    do {                                                                       \
        if (!(expr)) {                                                         \
            TAP_FAIL("check failed: %s", #expr);                               \
            printf("#   ");                                                    \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

#define is_int(got, want, ...)                                                 \
    do {                                                                       \
        long long _g = (long long)(got), _w = (long long)(want);               \
        if (_g != _w) {                                                        \
            TAP_FAIL("%s: got %lld, want %lld", #got, _g, _w);                 \
            printf("#   ");                                                    \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

#define is_str(got, want, ...)                                                 \
    do {                                                                       \
        const char *_g = (got), *_w = (want);                                  \
        if (!_g || !_w ? _g != _w : strcmp(_g, _w) != 0) {                     \
            TAP_FAIL("%s: got \"%s\", want \"%s\"", #got, _g ? _g : "(null)",  \
                     _w ? _w : "(null)");                                      \
            printf("#   ");                                                    \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

/* Mark the current test skipped (only for features a host truly lacks). */
#define skip_test(reason) do { tap_skip_reason = (reason); return; } while (0)

int tap_run(void);

#define TAP_MAIN                                                               \
    struct tap_test tap_tests[TAP_MAX_TESTS];                                  \
    int tap_ntests, tap_current_failed;                                        \
    const char *tap_skip_reason;                                               \
    int tap_run(void)                                                          \
    {                                                                          \
        int failed = 0;                                                        \
        printf("1..%d\n", tap_ntests);                                         \
        for (int i = 0; i < tap_ntests; i++) {                                 \
            tap_current_failed = 0;                                            \
            tap_skip_reason = NULL;                                            \
            fflush(stdout);                                                    \
            tap_tests[i].fn();                                                 \
            if (tap_skip_reason)                                               \
                printf("ok %d - %s # SKIP %s\n", i + 1, tap_tests[i].name,     \
                       tap_skip_reason);                                       \
            else                                                               \
                printf("%sok %d - %s\n", tap_current_failed ? "not " : "",     \
                       i + 1, tap_tests[i].name);                              \
            failed += tap_current_failed;                                      \
        }                                                                      \
        fflush(stdout);                                                        \
        return failed ? 1 : 0;                                                 \
    }                                                                          \
    int main(void) { return tap_run(); }
