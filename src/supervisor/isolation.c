#include "isolation.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"

static const struct { unsigned ns; uint64_t flag; } clone_flag_of[] = {
    { NS_PID, CLONE_NEWPID }, { NS_IPC, CLONE_NEWIPC }, { NS_NET, CLONE_NEWNET },
    { NS_UTS, CLONE_NEWUTS }, { NS_MNT, CLONE_NEWNS },
};

static bool limits_requested(const struct cgroup_limits *l)
{
    return l->has_memory || l->has_cpu || l->has_pids;
}

/* The spec's limits are primary; CELLOS_CGROUP_* only fill what it leaves
 * absent, and a malformed variable is a warning, not a failure. */
static void effective_limits(const struct cell_spec *spec, const struct sup_config *cfg,
                             struct cgroup_limits *out)
{
    struct cgroup_limits from_spec = { 0 }, from_env = { 0 };
    if (spec->run.present)
        cgroup_limits_from_spec(&from_spec, &spec->run.limits);
    struct cell_err err;
    if (cfg->cgroup_memory_max && cgroup_limits_parse_memory(&from_env, cfg->cgroup_memory_max, &err) < 0)
        log_warn("CELLOS_CGROUP_MEMORY_MAX ignored: %s", err.msg);
    if (cfg->cgroup_cpu_max && cgroup_limits_parse_cpu(&from_env, cfg->cgroup_cpu_max, &err) < 0)
        log_warn("CELLOS_CGROUP_CPU_MAX ignored: %s", err.msg);
    cgroup_limits_merge(out, &from_spec, &from_env);
}

static int setup_cgroup(struct cell_isolation *iso, const struct cell_spec *spec,
                        const struct sup_config *cfg, struct cell_err *err)
{
    struct cgroup_limits lim;
    effective_limits(spec, cfg, &lim);
    /* Limits without a parent still get a leaf: a limit the user asked for
     * is never silently dropped. */
    const char *parent = cfg->cgroup_parent ? cfg->cgroup_parent
                         : limits_requested(&lim) ? CGROUP_DEFAULT_PARENT : NULL;
    if (!parent)
        return 0;
    int r = cgroup_layout_detect(&iso->layout, NULL, NULL, err);
    if (r < 0)
        return r;
    iso->have_layout = true;
    r = cgroup_setup(&iso->layout, parent, spec->id, NULL, &lim, &iso->cgroup, err);
    if (r < 0)
        return r;
    cgroup_child_attach_info(iso->cgroup, &iso->attach);
    return 0;
}

static int setup_user(struct cell_isolation *iso, const struct cell_spec *spec,
                      const struct sup_config *cfg)
{
    if (spec->run.user.present) {
        iso->set_user = true;
        iso->uid = spec->run.user.uid;
        iso->gid = spec->run.user.gid;
    } else if (cfg->profile == PROFILE_HARDENED) {
        iso->set_user = true;
        iso->uid = 65534;
        iso->gid = 65534;
    }
    return 0;
}

static int setup_seccomp(struct cell_isolation *iso, const struct sup_config *cfg,
                         struct cell_err *err)
{
    enum seccomp_mode mode;
    if (seccomp_mode_parse(cfg->seccomp, &mode) < 0)
        return cell_err_set(err, EINVAL, "isolation_failed", "CELLOS_SECCOMP=%s: not understood",
                            cfg->seccomp);
    return seccomp_program_build(mode, mode == CELL_SECCOMP_RAW ? cfg->seccomp : NULL,
                                 &iso->seccomp, err);
}

/* Secret files for runtimeBroker. In a mount namespace they are written by
 * the child on the cell's own tmpfs; without one the supervisor writes them
 * to a private 0700 directory on the host's /dev/shm and removes it after. */
static int setup_secret_files(struct cell_isolation *iso, const struct cell_spec *spec,
                              const struct secret_set *secrets, struct cell_err *err)
{
    if (!spec->run.present || spec->run.secret_delivery != SECRET_DELIVERY_RUNTIME_BROKER)
        return 0;
    iso->secret_files = xcalloc(secrets->n, sizeof(*iso->secret_files));
    iso->n_secret_files = secrets->n;
    for (size_t i = 0; i < secrets->n; i++)
        iso->secret_files[i] = (struct child_secret_file){
            .name = secrets->items[i].key, .value = secrets->items[i].value,
            .len = secrets->items[i].len };
    if (iso->namespaces & NS_MNT) {
        iso->secrets_dir = xstrdup(CELL_SECRETS_DIR);
        return 0;
    }
    _cleanup_free_ char *tmpl = xasprintf(SECRETS_HOST_BASE "/" SECRETS_HOST_PREFIX "%d-XXXXXX",
                                          (int)getpid());
    if (!mkdtemp(tmpl))
        return cell_err_set(err, errno, "isolation_failed",
                            "cannot create a secrets directory in /dev/shm: %s", strerror(errno));
    iso->host_secrets_dir = xstrdup(tmpl);
    iso->secrets_dir = xstrdup(tmpl);
    for (size_t i = 0; i < iso->n_secret_files; i++) {
        const struct child_secret_file *s = &iso->secret_files[i];
        _cleanup_free_ char *path = xasprintf("%s/%s", tmpl, s->name);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
        if (fd < 0 || write_all(fd, s->value, s->len) < 0 ||
            (iso->set_user && fchown(fd, iso->uid, iso->gid) < 0))
            return cell_err_set(err, errno, "isolation_failed", "cannot write secret file %s: %s",
                                s->name, strerror(errno));
    }
    if (iso->set_user && chown(tmpl, iso->uid, iso->gid) < 0)
        return cell_err_set(err, errno, "isolation_failed", "cannot chown %s: %s", tmpl,
                            strerror(errno));
    return 0;
}

static int setup_mounts(struct cell_isolation *iso, const struct cell_spec *spec,
                        const char *resolv_conf, struct cell_err *err)
{
    if (!(iso->namespaces & NS_MNT))
        return 0;
    struct mount_opts o = {
        .workspace = spec->run.present ? spec->run.working_directory : NULL,
        .uid = iso->set_user ? iso->uid : 0,
        .gid = iso->set_user ? iso->gid : 0,
        .own_proc = (iso->namespaces & NS_PID) != 0,
        .secrets_dir = iso->secrets_dir,
        .resolv_conf = resolv_conf,
    };
    int r = mount_plan_build("/", &o, &iso->mounts, err);
    if (r == 0)
        iso->have_mounts = true;
    return r;
}

int isolation_setup(struct cell_isolation *iso, const struct cell_spec *spec,
                    const struct sup_config *cfg, const struct secret_set *secrets,
                    const char *resolv_conf, struct cell_err *err)
{
    memset(iso, 0, sizeof(*iso));
    iso->attach.clone_fd = -1;
    iso->attach.v2_procs_fd = -1;
    iso->namespaces = cfg->namespaces;
    for (size_t i = 0; i < ARRAY_SIZE(clone_flag_of); i++)
        if (iso->namespaces & clone_flag_of[i].ns)
            iso->clone_flags |= clone_flag_of[i].flag;
    iso->n_ns = namespace_names(iso->namespaces, iso->ns_names, ARRAY_SIZE(iso->ns_names));
    int r = setup_user(iso, spec, cfg);
    if (r == 0)
        r = setup_seccomp(iso, cfg, err);
    if (r == 0)
        r = setup_secret_files(iso, spec, secrets, err);
    if (r == 0)
        r = setup_mounts(iso, spec, resolv_conf, err);
    if (r == 0)
        r = setup_cgroup(iso, spec, cfg, err);
    if (r < 0) {
        struct run_result scratch;
        run_result_init(&scratch);
        isolation_teardown(iso, &scratch);
        run_result_clear(&scratch);
    }
    return r;
}

void isolation_fill_plan(struct cell_isolation *iso, struct child_plan *plan)
{
    plan->cgroup = iso->cgroup ? &iso->attach : NULL;
    plan->cgroup_cloned_into = iso->attach.clone_fd >= 0;
    plan->pid_init = (iso->namespaces & NS_PID) != 0;
    plan->mounts = iso->have_mounts ? &iso->mounts : NULL;
    plan->drop_net_caps = (iso->namespaces & NS_NET) != 0;
    plan->set_user = iso->set_user;
    plan->uid = iso->uid;
    plan->gid = iso->gid;
    plan->seccomp = &iso->seccomp;
    if (iso->namespaces & NS_MNT) {
        plan->secrets_dir = iso->secrets_dir;
        plan->secret_files = iso->secret_files;
        plan->n_secret_files = iso->n_secret_files;
    }
}

void isolation_describe(const struct cell_isolation *iso, struct isolation_info *info)
{
    *info = (struct isolation_info){
        .namespaces = iso->ns_names,
        .n_namespaces = iso->n_ns,
        .cgroup_path = iso->cgroup ? cgroup_primary_path(iso->cgroup) : NULL,
        .seccomp = seccomp_mode_name(iso->seccomp.mode),
        .netns = (iso->namespaces & NS_NET) != 0,
    };
}

void isolation_kill(struct cell_isolation *iso)
{
    if (iso->cgroup)
        (void)cgroup_kill(iso->cgroup, CGROUP_KILL_TIMEOUT_MS, NULL);
}

bool isolation_oom_killed(const struct cell_isolation *iso)
{
    bool killed = false;
    return iso->cgroup && cgroup_oom_killed(iso->cgroup, &killed) == 0 && killed;
}

int remove_secret_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                (void)unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    return rmdir(dir) < 0 && errno != ENOENT ? -errno : 0;
}

static void remove_host_secrets(struct cell_isolation *iso, struct run_result *result)
{
    if (!iso->host_secrets_dir)
        return;
    if (remove_secret_dir(iso->host_secrets_dir) < 0)
        run_result_add_residue(result, iso->host_secrets_dir);
    free(iso->host_secrets_dir);
    iso->host_secrets_dir = NULL;
}

void isolation_teardown(struct cell_isolation *iso, struct run_result *result)
{
    if (iso->cgroup) {
        struct cgroup_paths left = { 0 };
        (void)cgroup_destroy(iso->cgroup, CGROUP_KILL_TIMEOUT_MS, &left);
        for (size_t i = 0; i < left.n; i++)
            run_result_add_residue(result, left.v[i]);
        cgroup_paths_done(&left);
        cgroup_free(iso->cgroup);
        iso->cgroup = NULL;
    }
    if (iso->have_layout)
        cgroup_layout_done(&iso->layout);
    iso->have_layout = false;
    remove_host_secrets(iso, result);
    if (iso->have_mounts)
        mount_plan_free(&iso->mounts);
    iso->have_mounts = false;
    seccomp_program_free(&iso->seccomp);
    free(iso->secrets_dir);
    iso->secrets_dir = NULL;
    free(iso->secret_files);
    iso->secret_files = NULL;
    iso->n_secret_files = 0;
}
