/* reconcile.c: `cellos reconcile`: remove what a killed supervisor left
 * behind. Idempotent; never touches a live cell (cgroup leaves are locked by
 * their supervisor, secret directories name their supervisor's pid). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli.h"
#include "isolate/cgroup.h"
#include "supervisor/isolation.h"

static int reconcile_cgroups(int *failures)
{
    struct cgroup_layout l;
    struct cell_err err;
    if (cgroup_layout_detect(&l, NULL, NULL, &err) < 0) {
        log_error("reconcile: %s", err.msg);
        (*failures)++;
        return 0;
    }
    struct cgroup_paths removed = { 0 }, left = { 0 };
    (void)cgroup_reconcile(&l, NULL, CGROUP_KILL_TIMEOUT_MS, &removed, &left);
    for (size_t i = 0; i < removed.n; i++)
        printf("removed cgroup %s\n", removed.v[i]);
    for (size_t i = 0; i < left.n; i++)
        log_error("reconcile: cannot remove cgroup %s", left.v[i]);
    *failures += (int)left.n;
    int n = (int)removed.n;
    cgroup_paths_done(&removed);
    cgroup_paths_done(&left);
    cgroup_layout_done(&l);
    return n;
}

/* /dev/shm/cellos-secrets-<pid>-XXXXXX whose supervisor is gone. */
static int reconcile_secret_dirs(int *failures)
{
    DIR *d = opendir(SECRETS_HOST_BASE);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid;
        if (sscanf(e->d_name, SECRETS_HOST_PREFIX "%d-", &pid) != 1)
            continue;
        if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM))
            continue; /* its supervisor still runs */
        _cleanup_free_ char *dir = xasprintf("%s/%s", SECRETS_HOST_BASE, e->d_name);
        if (remove_secret_dir(dir) == 0) {
            printf("removed secrets directory %s\n", dir);
            n++;
        } else {
            log_error("reconcile: cannot remove %s: %s", dir, strerror(errno));
            (*failures)++;
        }
    }
    closedir(d);
    return n;
}

int cmd_reconcile(int argc, char **argv)
{
    if (argc != 1) {
        bool help = strcmp(argv[1], "--help") == 0;
        fprintf(help ? stdout : stderr, "usage: cellos reconcile\n");
        return help ? 0 : 2;
    }
    int failures = 0;
    int removed = reconcile_cgroups(&failures) + reconcile_secret_dirs(&failures);
    printf("reconcile: %d removed, %d could not be removed\n", removed, failures);
    return failures ? 1 : 0;
}
