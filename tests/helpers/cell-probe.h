/* cell-probe.h: what the probe's attempt files share (see cell-probe.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NONEXISTENT "/nonexistent-cellos-probe"

struct probe_args {
    pid_t target_pid;
    const char *target_comm;
    pid_t supervisor_pid;
    int host_port;
    const char *ro_path;
    const char *host_hostname;
    char **allow_env;
    size_t n_allow_env;
    const char *only;
};

/* What one attempt reports: escaped, and what it saw (errno name, path...). */
struct outcome {
    bool escaped;
    char detail[400];
};

typedef void (*attempt_fn)(const struct probe_args *, struct outcome *);

struct attempt {
    const char *name;
    attempt_fn fn;
};

/* Mounts, namespaces, other processes, kernel facilities. */
extern const struct attempt probe_kernel_attempts[];
extern const size_t probe_kernel_attempts_count;
/* Network, the host's tree, /proc, /sys, /dev, the probe's own state. */
extern const struct attempt probe_host_attempts[];
extern const size_t probe_host_attempts_count;

/* Called first thing in main, before the probe opens a descriptor. */
void probe_measure_inherited_fds(void);

void say(struct outcome *o, bool escaped, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "EPERM" for EPERM. */
const char *errname(int e);
/* Escaped when the call succeeded (r >= 0). */
void verdict_success(struct outcome *o, long r, int err, const char *what);
/* For calls made with harmless arguments: escaped unless the kernel refused
 * for privilege (EPERM / EACCES). */
void verdict_privilege(struct outcome *o, long r, int err, const char *what);
/* False (and a "skipped:" outcome) when no --target-pid was given. */
bool need_target(const struct probe_args *a, struct outcome *o);
/* A private scratch directory, or /tmp itself when none can be made (in a
 * cell /tmp is a private tmpfs). *made tells whether to remove it. */
const char *scratch_dir(char *buf, size_t len, bool *made);
