/* main.c: the `cellos` and `cellos-supervisor` programs (CONTRACT section 1).
 * One binary; the verbs are a table. */
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli.h"
#include "event/event.h"
#include "spec/spec.h"
#include "supervisor/supervisor.h"

struct verb {
    const char *name;
    const char *args;
    const char *summary;
    int (*fn)(int argc, char **argv);
};

static int cmd_run(int argc, char **argv);
static int cmd_validate(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct verb verbs[] = {
    { "run", "SPEC", "run one cell from SPEC (a path, or - for stdin)", cmd_run },
    { "validate", "SPEC", "parse and validate SPEC, print every error; exit 0 or 2", cmd_validate },
    { "plan", "SPEC", "validate, then print what would be enforced; runs nothing", cmd_plan },
    { "probe", "[--json]", "report what this host can enforce", cmd_probe },
    { "reconcile", "", "remove what a killed supervisor left behind (idempotent)", cmd_reconcile },
    { "events", "FILE", "print a readable timeline of a JSONL event file", cmd_events },
    { "verify", "[--keys FILE] [--json] EVENTS.jsonl",
      "verify signed event streams: signature, chain, sequence, sealing", cmd_verify },
    { "help", "", "show this help", cmd_help },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: cellos VERB [ARGS]\n"
                 "       cellos-supervisor SPEC\n\n"
                 "Runs commands in execution cells with exactly the authority their\n"
                 "cellos.io/v1 ExecutionCell spec grants.\n\nverbs:\n");
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
        char head[64];
        snprintf(head, sizeof(head), "%s %s", verbs[i].name, verbs[i].args);
        fprintf(out, "  %-40s %s\n", head, verbs[i].summary);
    }
    fprintf(out, "\noptions: --help, --version\n"
                 "Environment variables (CELLOS_*) are described in docs/variables.md.\n");
}

static int cmd_help(int argc, char **argv)
{
    usage(stdout);
    return 0;
}

int cli_read_spec(const char *path, char **bytes, size_t *len)
{
    int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        log_error("%s: cannot open: %s", path, strerror(errno));
        return -errno;
    }
    int r = read_file_fd(fd, SPEC_MAX_BYTES, bytes, len);
    close(fd);
    if (r == -EFBIG)
        log_error("%s: spec is larger than %u bytes", path, SPEC_MAX_BYTES);
    else if (r < 0)
        log_error("%s: cannot read: %s", path, strerror(-r));
    return r;
}

/* Every verb taking one SPEC argument accepts --help. */
static int one_spec_arg(int argc, char **argv, const char *verb)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: cellos %s SPEC\n", verb);
        return 1;
    }
    if (argc != 2 || (argv[1][0] == '-' && argv[1][1])) {
        log_error("usage: cellos %s SPEC (a path, or - for stdin)", verb);
        return -1;
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    int r = one_spec_arg(argc, argv, "run");
    if (r)
        return r > 0 ? 0 : 2;
    _cleanup_free_ char *bytes = NULL;
    size_t len = 0;
    if (cli_read_spec(argv[1], &bytes, &len) < 0)
        return 2;
    return supervisor_run(bytes, len);
}

int cli_load_spec(const char *path, struct cell_spec **out)
{
    _cleanup_free_ char *bytes = NULL;
    size_t len = 0;
    if (cli_read_spec(path, &bytes, &len) < 0)
        return -EINVAL;
    struct spec_errors errs = { 0 };
    int r = spec_parse(bytes, len, out, &errs);
    for (size_t i = 0; i < errs.n; i++)
        log_error("invalid spec: %s: %s", errs.items[i].path, errs.items[i].message);
    spec_errors_free(&errs);
    return r;
}

static int cmd_validate(int argc, char **argv)
{
    int r = one_spec_arg(argc, argv, "validate");
    if (r)
        return r > 0 ? 0 : 2;
    _cleanup_spec_ struct cell_spec *spec = NULL;
    if (cli_load_spec(argv[1], &spec) < 0)
        return 2;
    printf("%s: valid (spec.id %s)\n", argv[1], spec->id);
    return 0;
}

static const struct verb *find_verb(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

int main(int argc, char **argv)
{
    /* libsodium backs secret and key memory (sodium_malloc) and hashing. */
    if (sodium_init() < 0) {
        log_error("cannot initialise libsodium");
        return 125;
    }
    const char *prog = basename(argv[0]);
    if (strcmp(prog, "cellos-supervisor") == 0) {
        if (argc == 2 && strcmp(argv[1], "--version") == 0) {
            printf("cellos-supervisor %s\n", CELLOS_VERSION);
            return 0;
        }
        if (argc == 2 && strcmp(argv[1], "--help") == 0) {
            printf("usage: cellos-supervisor SPEC\nRun one cell from SPEC (a path, or - for stdin).\n");
            return 0;
        }
        return cmd_run(argc, argv);
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(argc - 1, argv + 1);
    if (strcmp(argv[1], "--version") == 0) {
        printf("cellos %s\n", CELLOS_VERSION);
        return 0;
    }
    const struct verb *v = find_verb(argv[1]);
    if (!v) {
        log_error("%s: unknown verb; see 'cellos --help'", argv[1]);
        return 2;
    }
    return v->fn(argc - 1, argv + 1);
}
