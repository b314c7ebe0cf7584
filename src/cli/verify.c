/* verify.c: `cellos verify [--keys FILE] [--json] EVENTS.jsonl`.
 *
 * Reads the file (or stdin for "-") through the streaming verifier and
 * prints a report: a readable one, or with --json one JSON object. Exit
 * status: 0 verified, 1 a finding, 2 usage or unreadable input, 3 intact as
 * far as can be told but signatures not checked (no --keys). The first
 * finding is also written to stderr as `cellos: verify: FILE: line N: why`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/base.h"
#include "base/buf.h"
#include "event/verify.h"

enum {
    EXIT_VERIFIED = 0,
    EXIT_FINDING = 1,
    EXIT_USAGE = 2,
    EXIT_UNCHECKED = 3,
};

#define USAGE_LINE "Usage: cellos verify [--keys FILE] [--json] EVENTS.jsonl\n"

static const char usage_text[] =
    USAGE_LINE
    "\n"
    "Verify signed cellos event streams (CELLOS_EVENT_SIGNING): every signature,\n"
    "the seq order and prevDigest chain of every run, no duplicates, and that every\n"
    "run ends with lifecycle.v1.destroyed. EVENTS.jsonl may be - for stdin.\n"
    "\n"
    "  --keys FILE  {\"<kid>\": \"<base64url key>\"}: a 32-byte value is an Ed25519\n"
    "               public key, any other length an HMAC key; or per kid\n"
    "               {\"alg\": \"ed25519\"|\"hmac-sha256\", \"key\": \"<base64url>\"}\n"
    "  --json       print the report as one JSON object\n"
    "  --help       this text\n"
    "\n"
    "Exit status: 0 verified; 1 tampered, truncated, unknown key or not signed;\n"
    "2 usage error or unreadable input; 3 no --keys given: structure, order and\n"
    "chains are intact but no signature was checked.\n";

struct verify_opts {
    const char *keys_path;
    const char *events_path;
    bool json;
};

/* 0 to go on, otherwise 1 + the exit status. */
static int parse_args(int argc, char **argv, struct verify_opts *o)
{
    static const struct option longopts[] = {
        { "keys", required_argument, NULL, 'k' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    optind = 0;          /* glibc: start afresh whatever parsed argv before */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+k:jh", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': o->keys_path = optarg; break;
        case 'j': o->json = true; break;
        case 'h': fputs(usage_text, stdout); return 1 + 0;
        case 'V': printf("cellos %s\n", CELLOS_VERSION); return 1 + 0;
        default:
            fprintf(stderr, "cellos: verify: %s: unknown option or missing argument\n" USAGE_LINE,
                    argv[optind - 1]);
            return 1 + EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "cellos: verify: %s\n" USAGE_LINE,
                optind >= argc ? "missing EVENTS.jsonl" : "expected one events file");
        return 1 + EXIT_USAGE;
    }
    o->events_path = argv[optind];
    return 0;
}

/* Event files are untrusted: their strings reach the terminal with control
 * characters spelled out (no escape sequences from a forged kid). */
static char *printable(const char *s)
{
    struct buf b = BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            buf_printf(&b, "\\x%02x", *p);
        else
            buf_putc(&b, (char)*p);
    }
    return buf_steal(&b);
}

static const char *verdict_name(enum verify_verdict v)
{
    static const char *const names[] = {
        [VERIFY_VERDICT_OK] = "ok",
        [VERIFY_VERDICT_FAILED] = "failed",
        [VERIFY_VERDICT_UNCHECKED] = "unchecked",
    };
    return names[v];
}

static json_t *json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *runs_json(const struct verifier *v)
{
    size_t n;
    const struct verify_run *runs = verifier_runs(v, &n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack(
            "{s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:b, s:b}",
            "runId", runs[i].run_id,
            "cellId", json_str_or_null(runs[i].cell_id),
            "kid", json_str_or_null(runs[i].kid),
            "alg", json_str_or_null(runs[i].kid ? sign_alg_name(runs[i].alg) : NULL),
            "envelopes", (json_int_t)runs[i].envelopes,
            "lastSeq", (json_int_t)runs[i].last_seq,
            "firstLine", (json_int_t)runs[i].first_line,
            "lastLine", (json_int_t)runs[i].last_line,
            "sealed", runs[i].sealed,
            "ok", runs[i].ok));
    return arr;
}

static json_t *findings_json(const struct verifier *v)
{
    size_t n;
    const struct verify_finding *f = verifier_findings(v, &n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack(
            "{s:I, s:s, s:o, s:o, s:s}",
            "line", (json_int_t)f[i].lineno,
            "code", verify_code_name(f[i].code),
            "runId", json_str_or_null(f[i].run_id),
            "seq", f[i].seq >= 0 ? json_integer(f[i].seq) : json_null(),
            "message", f[i].message));
    return arr;
}

static void print_json(const struct verifier *v, const char *path)
{
    struct verify_summary s;
    verifier_summary(v, &s);
    json_t *report = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
                               "file", path,
                               "verdict", verdict_name(verifier_verdict(v)),
                               "signaturesChecked", s.signatures_checked,
                               "lines", (json_int_t)s.lines,
                               "envelopes", (json_int_t)s.envelopes,
                               "runCount", (json_int_t)s.runs,
                               "runsSealed", (json_int_t)s.runs_sealed,
                               "findingCount", (json_int_t)s.findings,
                               "runs", runs_json(v),
                               "findings", findings_json(v));
    json_dumpf(report, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
    fputc('\n', stdout);
    json_decref(report);
}

static void print_runs_text(const struct verifier *v)
{
    size_t n;
    const struct verify_run *runs = verifier_runs(v, &n);
    for (size_t i = 0; i < n; i++) {
        const struct verify_run *r = &runs[i];
        _cleanup_free_ char *run_id = printable(r->run_id), *kid = printable(r->kid);
        _cleanup_free_ char *cell = r->cell_id ? printable(r->cell_id) : NULL;
        printf("run %s%s%s%s: %llu event%s, last seq %lld, kid %s (%s), %s, %s\n",
               run_id, cell ? " (cell " : "", cell ? cell : "", cell ? ")" : "",
               (unsigned long long)r->envelopes, r->envelopes == 1 ? "" : "s",
               (long long)r->last_seq, r->kid ? kid : "?", r->kid ? sign_alg_name(r->alg) : "?",
               r->sealed ? "sealed" : "NOT sealed", r->ok ? "ok" : "FAILED");
    }
}

static void print_text(const struct verifier *v, const char *path)
{
    struct verify_summary s;
    verifier_summary(v, &s);
    printf("%s: %lu line%s, %lu signed envelope%s, %zu run%s (%zu sealed)\n", path, s.lines,
           s.lines == 1 ? "" : "s", s.envelopes, s.envelopes == 1 ? "" : "s", s.runs,
           s.runs == 1 ? "" : "s", s.runs_sealed);
    print_runs_text(v);
    size_t n;
    const struct verify_finding *f = verifier_findings(v, &n);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *msg = printable(f[i].message);
        if (f[i].lineno)
            printf("line %lu: %s: %s\n", f[i].lineno, verify_code_name(f[i].code), msg);
        else
            printf("input: %s: %s\n", verify_code_name(f[i].code), msg);
    }
    if (s.findings > n)
        printf("... and %zu more findings\n", s.findings - n);
    switch (verifier_verdict(v)) {
    case VERIFY_VERDICT_OK:
        printf("verdict: OK: every signature holds, every run is complete, in order and sealed\n");
        break;
    case VERIFY_VERDICT_UNCHECKED:
        printf("verdict: UNCHECKED: structure, order, chains and sealing are intact, but no "
               "signature was checked (give --keys)\n");
        break;
    case VERIFY_VERDICT_FAILED:
        printf("verdict: FAILED: %zu finding%s, first at line %lu\n", s.findings,
               s.findings == 1 ? "" : "s", n ? f[0].lineno : 0UL);
        break;
    }
}

/* The first finding, or the missing signature check, on stderr. */
static void print_stderr_summary(const struct verifier *v, const char *path)
{
    size_t n;
    const struct verify_finding *f = verifier_findings(v, &n);
    enum verify_verdict verdict = verifier_verdict(v);
    if (verdict == VERIFY_VERDICT_FAILED && n > 0) {
        _cleanup_free_ char *msg = printable(f[0].message);
        fprintf(stderr, "cellos: verify: %s: line %lu: %s: %s\n", path, f[0].lineno,
                verify_code_name(f[0].code), msg);   /* line 0: the input as a whole */
    }
    else if (verdict == VERIFY_VERDICT_UNCHECKED)
        fprintf(stderr, "cellos: verify: %s: signatures not checked: no --keys given\n", path);
}

static int verify_stream(const struct verify_opts *o, const struct verify_keys *keys)
{
    bool use_stdin = strcmp(o->events_path, "-") == 0;
    FILE *in = use_stdin ? stdin : fopen(o->events_path, "re");
    if (!in) {
        fprintf(stderr, "cellos: verify: %s: %s\n", o->events_path, strerror(errno));
        return EXIT_USAGE;
    }
    struct verifier *v = verifier_new(keys, NULL, NULL);
    struct cell_err err = { 0 };
    int r = v ? verifier_feed_file(v, in, &err) : -EIO;
    if (!use_stdin)
        fclose(in);
    if (r < 0) {
        fprintf(stderr, "cellos: verify: %s: %s\n", o->events_path,
                v ? err.msg : "cannot initialise libsodium");
        verifier_free(v);
        return EXIT_USAGE;
    }
    verifier_finish(v);
    const char *shown = use_stdin ? "(stdin)" : o->events_path;
    if (o->json)
        print_json(v, shown);
    else
        print_text(v, shown);
    fflush(stdout);
    print_stderr_summary(v, shown);
    static const int status[] = {
        [VERIFY_VERDICT_OK] = EXIT_VERIFIED,
        [VERIFY_VERDICT_FAILED] = EXIT_FINDING,
        [VERIFY_VERDICT_UNCHECKED] = EXIT_UNCHECKED,
    };
    int rc = status[verifier_verdict(v)];
    verifier_free(v);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    struct verify_opts o = { 0 };
    int r = parse_args(argc, argv, &o);
    if (r > 0)
        return r - 1;
    struct verify_keys *keys = NULL;
    if (o.keys_path) {
        struct cell_err err = { 0 };
        if (verify_keys_load(o.keys_path, &keys, &err) < 0) {
            fprintf(stderr, "cellos: verify: %s\n", err.msg);
            return EXIT_USAGE;
        }
    }
    int rc = verify_stream(&o, keys);
    verify_keys_free(keys);
    return rc;
}
