/* Pure parts of the supervisor: configuration from the environment, secret
 * brokers, exit status mapping, and the event envelope. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>

#include "base/buf.h"
#include "event/event.h"
#include "supervisor/config.h"
#include "supervisor/run_events.h"
#include "supervisor/secrets.h"
#include "tap.h"

static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
    size_t n = strlen(name);
    for (const char *const *e = fake_env; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

TEST(config_defaults)
{
    static const char *const env[] = { NULL };
    fake_env = env;
    struct sup_config c;
    char *warn = NULL;
    sup_config_load(fake_getenv, &c, &warn);
    ok(!c.has_error, "no error");
    is_int(c.profile, PROFILE_PORTABLE, "portable by default");
    is_int(c.broker, BROKER_ENV, "env broker by default");
    ok(c.jsonl_path == NULL && !c.noop_sink && !c.argv0_allow_prefixes, "nothing else");
    ok(warn == NULL, "no warning");
    sup_config_clear(&c);
}

TEST(config_reads_every_variable)
{
    static const char *const env[] = {
        "CELLOS_DEPLOYMENT_PROFILE=hardened", "CELLOS_BROKER=file",
        "CELL_OS_JSONL_EVENTS=/tmp/alias", "CELL_OS_USE_NOOP_SINK=1",
        "CELLOS_RUN_ARGV0_ALLOW_PREFIXES= /usr/bin/ ,,/opt/", NULL,
    };
    fake_env = env;
    struct sup_config c;
    sup_config_load(fake_getenv, &c, NULL);
    ok(!c.has_error, "no error");
    is_int(c.profile, PROFILE_HARDENED, "hardened");
    is_int(c.broker, BROKER_FILE, "file broker");
    is_str(c.jsonl_path, "/tmp/alias", "alias honoured");
    ok(c.noop_sink, "noop");
    is_str(c.argv0_allow_prefixes[0], "/usr/bin/", "trimmed");
    is_str(c.argv0_allow_prefixes[1], "/opt/", "empty items dropped");
    ok(c.argv0_allow_prefixes[2] == NULL, "two prefixes");
    sup_config_clear(&c);
}

TEST(config_primary_jsonl_variable_wins)
{
    static const char *const env[] = { "CELLOS_JSONL_SINK_PATH=/a", "CELL_OS_JSONL_EVENTS=/b", NULL };
    fake_env = env;
    struct sup_config c;
    sup_config_load(fake_getenv, &c, NULL);
    is_str(c.jsonl_path, "/a", "CELLOS_JSONL_SINK_PATH first");
    sup_config_clear(&c);
}

TEST(config_bad_values_are_errors_that_name_the_variable)
{
    static const char *const env[] = { "CELLOS_DEPLOYMENT_PROFILE=paranoid", NULL };
    fake_env = env;
    struct sup_config c;
    sup_config_load(fake_getenv, &c, NULL);
    ok(c.has_error, "error");
    ok(strstr(c.error.msg, "CELLOS_DEPLOYMENT_PROFILE=paranoid") != NULL, "%s", c.error.msg);
    ok(strstr(c.error.msg, "portable, hardened") != NULL, "lists the choices");
    sup_config_clear(&c);
    static const char *const env2[] = { "CELLOS_BROKER=vault", NULL };
    fake_env = env2;
    sup_config_load(fake_getenv, &c, NULL);
    ok(c.has_error && strstr(c.error.msg, "CELLOS_BROKER"), "broker");
    sup_config_clear(&c);
}

TEST(unshare_list_parsing)
{
    struct buf warn = BUF_INIT;
    is_int(parse_unshare_list("1", &warn), NS_DEFAULT, "1");
    is_int(parse_unshare_list("default", &warn), NS_PID | NS_IPC | NS_MNT | NS_NET, "default");
    is_int(parse_unshare_list("uts,mount,ns", &warn), NS_UTS | NS_MNT, "aliases");
    ok(warn.len == 0, "no warning yet");
    is_int(parse_unshare_list("pid,bogus, net", &warn), NS_PID | NS_NET, "unknown ignored");
    ok(warn.data && strstr(warn.data, "'bogus'") != NULL, "unknown named");
    is_int(parse_unshare_list("nothing", &warn), 0, "nothing valid: no unshare");
    buf_free(&warn);
    const char *names[8];
    is_int(namespace_names(NS_ALL, names, 8), 5, "five");
    is_str(names[0], "pid", "fixed order");
    is_str(names[4], "mnt", "mnt last");
}

TEST(hardened_defaults)
{
    static const char *const env[] = { "CELLOS_DEPLOYMENT_PROFILE=hardened",
                                       "CELLOS_SUBPROCESS_UNSHARE=net", NULL };
    fake_env = env;
    struct sup_config c;
    sup_config_load(fake_getenv, &c, NULL);
    is_int(c.namespaces, NS_ALL, "all namespaces whatever was asked");
    is_str(c.cgroup_parent, "cellos", "cgroup parent");
    is_str(c.seccomp, "baseline", "seccomp");
    sup_config_clear(&c);
    static const char *const env2[] = { "CELLOS_SUBPROCESS_UNSHARE=net", NULL };
    fake_env = env2;
    sup_config_load(fake_getenv, &c, NULL);
    is_int(c.namespaces, NS_NET, "portable: as asked");
    ok(c.cgroup_parent == NULL, "no cgroup parent");
    is_str(c.seccomp, "off", "seccomp off");
    sup_config_clear(&c);
}

TEST(secret_variable_names)
{
    char *n = secret_variable_name(BROKER_ENV, "github-token");
    is_str(n, "CELLOS_SECRET_GITHUB_TOKEN", "upper-cased, - to _");
    free(n);
    n = secret_variable_name(BROKER_FILE, "db.pass");
    is_str(n, "CELLOS_SECRET_FILE_DB.PASS", "file broker");
    free(n);
}

TEST(env_broker_resolves_and_reports_missing)
{
    static const char *const env[] = { "CELLOS_SECRET_A_KEY=v1", NULL };
    fake_env = env;
    char *keys[] = { (char *)"a-key", (char *)"other" };
    struct secret_set set;
    struct cell_err err;
    ok(secrets_resolve(BROKER_ENV, fake_getenv, keys, 1, &set, &err) == 0, "found");
    is_str(set.items[0].value, "v1", "value");
    is_str(set.items[0].env_name, "a-key", "workload sees the key");
    secrets_free(&set);
    ok(secrets_resolve(BROKER_ENV, fake_getenv, keys, 2, &set, &err) < 0, "missing");
    is_str(err.reason, "secret_unavailable", "reason");
    ok(strstr(err.msg, "CELLOS_SECRET_OTHER") != NULL, "%s", err.msg);
}

TEST(file_broker_strips_one_newline_and_refuses_symlinks)
{
    char dir[] = "/tmp/cellos-unit-XXXXXX";
    ok(mkdtemp(dir) != NULL, "tmpdir");
    char path[128], link[128], envvar[200];
    snprintf(path, sizeof(path), "%s/s", dir);
    snprintf(link, sizeof(link), "%s/l", dir);
    FILE *f = fopen(path, "w");
    fputs("abc\n\n", f);
    fclose(f);
    snprintf(envvar, sizeof(envvar), "CELLOS_SECRET_FILE_K=%s", path);
    const char *env[] = { envvar, NULL };
    fake_env = env;
    char *keys[] = { (char *)"k" };
    struct secret_set set;
    struct cell_err err;
    ok(secrets_resolve(BROKER_FILE, fake_getenv, keys, 1, &set, &err) == 0, "read");
    is_str(set.items[0].value, "abc\n", "exactly one newline stripped");
    secrets_free(&set);
    ok(symlink(path, link) == 0, "symlink");
    snprintf(envvar, sizeof(envvar), "CELLOS_SECRET_FILE_K=%s", link);
    ok(secrets_resolve(BROKER_FILE, fake_getenv, keys, 1, &set, &err) == -ELOOP, "O_NOFOLLOW");
    unlink(link);
    unlink(path);
    rmdir(dir);
}

TEST(exit_status_mapping)
{
    struct run_result r;
    run_result_init(&r);
    is_int(run_result_exit_status(&r, false), 0, "no run");
    run_result_exited(&r, 3, 0, 1);
    is_int(run_result_exit_status(&r, false), 3, "own status");
    run_result_exited(&r, -1, 9, 1);
    is_int(run_result_exit_status(&r, false), 137, "signal");
    r.timed_out = true;
    is_int(run_result_exit_status(&r, false), 124, "timeout");
    run_result_init(&r);
    run_result_exited(&r, 0, 0, 1);
    is_int(run_result_exit_status(&r, true), 125, "sink failure spoils success");
    run_result_fail(&r, 127, "exec_failed", "x");
    run_result_fail(&r, 125, "spawn_failed", "later");
    is_int(run_result_exit_status(&r, false), 127, "first failure wins");
    is_str(r.fail_reason, "exec_failed", "reason kept");
}

TEST(event_envelope_has_every_field)
{
    struct event_ctx ctx;
    event_ctx_init(&ctx, "cell-1", "corr-9");
    json_t *data = json_pack("{s:i, s:s}", "exitCode", 0, "cellId", "spoofed");
    json_t *ev = event_build(&ctx, EV_COMMAND_COMPLETED, data);
    is_str(json_string_value(json_object_get(ev, "specversion")), "1.0", "specversion");
    is_str(json_string_value(json_object_get(ev, "type")),
           "dev.cellos.events.cell.command.v1.completed", "type");
    is_str(json_string_value(json_object_get(ev, "subject")), "urn:cellos:cell:cell-1", "subject");
    is_str(json_string_value(json_object_get(ev, "datacontenttype")), "application/json", "ct");
    ok(strncmp(json_string_value(json_object_get(ev, "id")), "urn:cellos:event:", 17) == 0, "id");
    ok(strlen(json_string_value(json_object_get(ev, "time"))) == 24, "time with ms");
    json_t *d = json_object_get(ev, "data");
    is_str(json_string_value(json_object_get(d, "cellId")), "cell-1", "common fields win");
    is_str(json_string_value(json_object_get(d, "correlationId")), "corr-9", "correlation");
    is_str(json_string_value(json_object_get(d, "runId")), ctx.run_id, "run id");
    is_int(json_integer_value(json_object_get(d, "exitCode")), 0, "type field kept");
    json_decref(ev);
    event_ctx_clear(&ctx);
}

TEST(every_event_type_has_a_name)
{
    for (int t = EV_LIFECYCLE_STARTED; t <= EV_LIFECYCLE_DESTROYED; t++)
        ok(event_type_name((enum event_type)t) != NULL, "type %d", t);
}

__attribute__((constructor(101))) static void init_sodium(void)
{
    if (sodium_init() < 0)
        abort();
}

TAP_MAIN
