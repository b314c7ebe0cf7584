/* test_spec.c: spec_parse() on valid specs (fields checked) and on invalid
 * ones (the exact path and message of every error). Specs are written with
 * ' for " to stay readable; q() swaps them back. */
#include <string.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "spec/spec.h"
#include "tap.h"

static char *q(const char *s)
{
    char *r = xstrdup(s);
    for (char *p = r; *p; p++)
        if (*p == '\'')
            *p = '"';
    return r;
}

#define HEAD "{'apiVersion':'cellos.io/v1','kind':'ExecutionCell',"
/* A whole spec around one part of it. */
#define SPEC(body) HEAD "'spec':{" body "}}"
#define BASE "'id':'t','authority':{},'lifetime':{'ttlSeconds':60}"
#define AUTH(a) SPEC("'id':'t','lifetime':{'ttlSeconds':60},'authority':" a)
#define EGRESS(rules) AUTH("{'egressRules':" rules "}")
#define DNS(d) AUTH("{'dnsAuthority':" d "}")
#define RUN(r) SPEC(BASE ",'run':" r)
#define LIMITS(l) RUN("{'argv':['x'],'limits':" l "}")
#define EXPORT(e) SPEC(BASE ",'export':{'artifacts':" e "}")

struct bad_case {
    const char *json;     /* with ' for " */
    const char *path;
    const char *message;
};

static int parse_q(const char *json_q, struct cell_spec **out, struct spec_errors *errs)
{
    _cleanup_free_ char *json = q(json_q);
    return spec_parse(json, strlen(json), out, errs);
}

/* Each case must fail with exactly one error, the one given. */
static void check_bad_cases(const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct cell_spec *spec = NULL;
        struct spec_errors errs;
        int r = parse_q(cases[i].json, &spec, &errs);
        is_int(r, -EINVAL, "case %zu (%s) must fail", i, cases[i].path);
        ok(spec == NULL, "case %zu: out untouched", i);
        is_int(errs.n, 1, "case %zu (%s): one error", i, cases[i].path);
        for (size_t k = 0; k < errs.n; k++)
            printf("#   case %zu error: %s: %s\n", i, errs.items[k].path, errs.items[k].message);
        if (errs.n >= 1) {
            is_str(errs.items[0].path, cases[i].path, "case %zu path", i);
            is_str(errs.items[0].message, cases[i].message, "case %zu message", i);
        }
        spec_errors_free(&errs);
    }
}

#define CHECK_BAD(table) check_bad_cases(table, ARRAY_SIZE(table))

static const char minimal_spec[] =
    "{\"apiVersion\":\"cellos.io/v1\",\"kind\":\"ExecutionCell\",\"spec\":{\"id\":\"t-run\","
    "\"authority\":{\"secretRefs\":[]},\"lifetime\":{\"ttlSeconds\":60},"
    "\"run\":{\"secretDelivery\":\"env\",\"argv\":[\"true\"]}}}";

static const char full_spec[] =
    "{\n"
    "  \"apiVersion\": \"cellos.io/v1\",\n"
    "  \"kind\": \"ExecutionCell\",\n"
    "  \"spec\": {\n"
    "    \"id\": \"demo-cell-001\",\n"
    "    \"correlation\": { \"correlationId\": \"build-4711\" },\n"
    "    \"authority\": {\n"
    "      \"secretRefs\": [\"GITHUB_TOKEN\"],\n"
    "      \"egressRules\": [ { \"host\": \"api.example.com\", \"port\": 443, \"protocol\": \"tcp\" } ],\n"
    "      \"dnsAuthority\": {\n"
    "        \"hostnameAllowlist\": [\"api.example.com\", \"*.cdn.example.com\"],\n"
    "        \"blockDirectWorkloadDns\": true,\n"
    "        \"resolvers\": [ { \"resolverId\": \"corp-dns\", \"endpoint\": \"10.0.0.2:53\", \"protocol\": \"do53-udp\" } ],\n"
    "        \"allowedQueryTypes\": [\"A\", \"AAAA\", \"CNAME\", \"HTTPS\"]\n"
    "      }\n"
    "    },\n"
    "    \"lifetime\": { \"ttlSeconds\": 60 },\n"
    "    \"run\": {\n"
    "      \"argv\": [\"/usr/bin/python3\", \"job.py\"],\n"
    "      \"workingDirectory\": \"/job\",\n"
    "      \"timeoutMs\": 30000,\n"
    "      \"secretDelivery\": \"env\",\n"
    "      \"user\": \"65534:65534\",\n"
    "      \"limits\": {\n"
    "        \"memoryMaxBytes\": 268435456,\n"
    "        \"cpuMax\": { \"quotaMicros\": 50000, \"periodMicros\": 100000 },\n"
    "        \"pidsMax\": 256,\n"
    "        \"gracefulShutdownSeconds\": 5\n"
    "      }\n"
    "    },\n"
    "    \"export\": { \"artifacts\": [ { \"name\": \"report.json\", \"path\": \"/job/report.json\" } ] }\n"
    "  }\n"
    "}\n";

TEST(minimal_spec_is_valid)
{
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    is_int(spec_parse(minimal_spec, strlen(minimal_spec), &spec, &errs), 0, "parses");
    is_int(errs.n, 0, "no errors");
    if (!spec)
        return;
    is_str(spec->api_version, "cellos.io/v1", "apiVersion");
    is_str(spec->kind, "ExecutionCell", "kind");
    is_str(spec->id, "t-run", "id");
    ok(spec->correlation_id == NULL, "no correlation");
    is_int(spec->n_secret_refs, 0, "no secrets");
    is_int(spec->n_egress_rules, 0, "no egress");
    ok(!spec->dns.present, "no dnsAuthority");
    is_int(spec->ttl_seconds, 60, "ttl");
    ok(spec->run.present, "run");
    is_int(spec->run.argc, 1, "argc");
    is_str(spec->run.argv[0], "true", "argv[0]");
    ok(spec->run.argv[1] == NULL, "argv NULL-terminated");
    ok(!spec->run.has_timeout_ms, "no timeout");
    is_int(spec->run.secret_delivery, SECRET_DELIVERY_ENV, "env delivery");
    ok(!spec->run.user.present, "no user");
    ok(spec->run.working_directory == NULL, "no workdir");
    is_int(spec_effective_timeout_ms(spec), 60000, "effective timeout is the ttl");
    spec_free(spec);
    spec_errors_free(&errs);
}

TEST(full_contract_example_is_valid)
{
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    is_int(spec_parse(full_spec, strlen(full_spec), &spec, &errs), 0, "parses");
    for (size_t i = 0; i < errs.n; i++)
        printf("# %s: %s\n", errs.items[i].path, errs.items[i].message);
    if (!spec)
        return;
    is_str(spec->id, "demo-cell-001", "id");
    is_str(spec->correlation_id, "build-4711", "correlationId");
    is_int(spec->n_secret_refs, 1, "one secret");
    is_str(spec->secret_refs[0], "GITHUB_TOKEN", "secret key");
    is_int(spec->n_egress_rules, 1, "one egress rule");
    is_str(spec->egress_rules[0].host, "api.example.com", "host");
    is_int(spec->egress_rules[0].kind, EGRESS_HOSTNAME, "hostname kind");
    is_int(spec->egress_rules[0].port, 443, "port");
    is_int(spec->egress_rules[0].protocol, NET_PROTO_TCP, "tcp");
    ok(spec->dns.present, "dnsAuthority");
    is_int(spec->dns.n_hostname_allowlist, 2, "allowlist");
    is_str(spec->dns.hostname_allowlist[1], "*.cdn.example.com", "wildcard kept as written");
    ok(spec->dns.block_direct_workload_dns, "blockDirectWorkloadDns");
    is_int(spec->dns.n_resolvers, 1, "one resolver");
    is_str(spec->dns.resolvers[0].resolver_id, "corp-dns", "resolverId");
    is_str(spec->dns.resolvers[0].endpoint, "10.0.0.2:53", "endpoint as written");
    is_int(spec->dns.resolvers[0].family, AF_INET, "v4");
    ok(memcmp(spec->dns.resolvers[0].addr, "\x0a\x00\x00\x02", 4) == 0, "addr 10.0.0.2");
    is_int(spec->dns.resolvers[0].port, 53, "port");
    is_int(spec->dns.resolvers[0].protocol, RESOLVER_DO53_UDP, "do53-udp");
    ok(spec->dns.allowed_qtypes_given, "qtypes given");
    is_int(spec->dns.n_allowed_qtypes, 4, "four qtypes");
    is_int(spec->dns.allowed_qtypes[0], 1, "A");
    is_int(spec->dns.allowed_qtypes[1], 28, "AAAA");
    is_int(spec->dns.allowed_qtypes[2], 5, "CNAME");
    is_int(spec->dns.allowed_qtypes[3], 65, "HTTPS");
    is_int(spec->ttl_seconds, 60, "ttl");
    is_int(spec->run.argc, 2, "argc");
    is_str(spec->run.argv[1], "job.py", "argv[1]");
    is_str(spec->run.working_directory, "/job", "workdir");
    ok(spec->run.has_timeout_ms, "timeout");
    is_int(spec->run.timeout_ms, 30000, "timeoutMs");
    ok(spec->run.user.present, "user");
    is_int(spec->run.user.uid, 65534, "uid");
    is_int(spec->run.user.gid, 65534, "gid");
    ok(spec->run.limits.has_memory_max, "memory");
    is_int(spec->run.limits.memory_max_bytes, 268435456, "memoryMaxBytes");
    ok(spec->run.limits.cpu_max.present, "cpuMax");
    ok(!spec->run.limits.cpu_max.unlimited, "quota given");
    is_int(spec->run.limits.cpu_max.quota_micros, 50000, "quota");
    is_int(spec->run.limits.cpu_max.period_micros, 100000, "period");
    ok(spec->run.limits.has_pids_max, "pids");
    is_int(spec->run.limits.pids_max, 256, "pidsMax");
    ok(spec->run.limits.has_graceful_shutdown, "graceful");
    is_int(spec->run.limits.graceful_shutdown_seconds, 5, "grace");
    is_int(spec->n_artifacts, 1, "one artifact");
    is_str(spec->artifacts[0].name, "report.json", "artifact name");
    is_str(spec->artifacts[0].path, "/job/report.json", "artifact path");
    is_int(spec_effective_timeout_ms(spec), 30000, "timeoutMs is smaller than the ttl");
    spec_free(spec);
    spec_errors_free(&errs);
}

TEST(spec_without_run_is_valid)
{
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    is_int(parse_q(SPEC(BASE), &spec, &errs), 0, "parses");
    if (!spec)
        return;
    ok(!spec->run.present, "no run");
    ok(spec->run.argv == NULL, "no argv");
    is_int(spec_effective_timeout_ms(spec), 60000, "ttl");
    ok(!spec->dns.allowed_qtypes_given, "default qtypes");
    is_int(spec->dns.n_allowed_qtypes, 4, "default qtypes listed");
    spec_free(spec);
    spec_errors_free(&errs);
}

/* Egress hosts of every kind, defaults, and the v6 / CIDR parsing. */
TEST(egress_hosts_are_classified)
{
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    int r = parse_q(EGRESS("[{'host':'10.1.2.3','port':1},"
                           "{'host':'2001:db8::1','port':65535,'protocol':'udp'},"
                           "{'host':'10.0.0.0/8','port':80},"
                           "{'host':'2001:db8::/32','port':443},"
                           "{'host':'Example.COM.','port':443},"
                           "{'host':'0.0.0.0/0','port':53}]"),
                    &spec, &errs);
    is_int(r, 0, "parses");
    for (size_t i = 0; i < errs.n; i++)
        printf("# %s: %s\n", errs.items[i].path, errs.items[i].message);
    if (!spec)
        return;
    struct egress_rule *e = spec->egress_rules;
    is_int(e[0].kind, EGRESS_IPV4, "v4");
    is_int(e[0].prefix_len, 32, "/32");
    ok(memcmp(e[0].addr, "\x0a\x01\x02\x03", 4) == 0, "v4 bytes");
    is_int(e[0].protocol, NET_PROTO_TCP, "default tcp");
    is_int(e[1].kind, EGRESS_IPV6, "v6");
    is_int(e[1].prefix_len, 128, "/128");
    is_int(e[1].addr[0], 0x20, "v6 byte 0");
    is_int(e[1].addr[15], 1, "v6 byte 15");
    is_int(e[1].protocol, NET_PROTO_UDP, "udp");
    is_int(e[1].port, 65535, "port 65535");
    is_int(e[2].kind, EGRESS_CIDR4, "cidr4");
    is_int(e[2].prefix_len, 8, "/8");
    is_int(e[3].kind, EGRESS_CIDR6, "cidr6");
    is_int(e[3].prefix_len, 32, "/32 v6");
    is_int(e[4].kind, EGRESS_HOSTNAME, "hostname with one trailing dot");
    is_str(e[4].host, "Example.COM.", "as written");
    is_int(e[5].kind, EGRESS_CIDR4, "everything");
    is_int(e[5].prefix_len, 0, "/0");
    spec_free(spec);
    spec_errors_free(&errs);
}

TEST(optional_values_and_aliases)
{
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    int r = parse_q(SPEC("'id':'A.b_c-9','correlation':{'correlationId':'c','tenantId':'acme'},"
                         "'authority':{'secretRefs':['a-b','c.d'],'dnsAuthority':{"
                         "'resolvers':[{'resolverId':'r6','endpoint':'[::1]:5353'}],"
                         "'allowedQueryTypes':['a','aaaa','Https','TYPE64','any','caa']}},"
                         "'lifetime':{'ttlSeconds':604800},"
                         "'run':{'argv':['/bin/sh','-c',''],'timeoutSeconds':5,"
                         "'secretDelivery':'runtimeBroker','user':'0:0',"
                         "'limits':{'cpuMax':{'quotaMicros':'max'},'gracefulShutdownSeconds':0}}"),
                    &spec, &errs);
    is_int(r, 0, "parses");
    for (size_t i = 0; i < errs.n; i++)
        printf("# %s: %s\n", errs.items[i].path, errs.items[i].message);
    if (!spec)
        return;
    is_str(spec->tenant_id, "acme", "tenantId");
    is_int(spec->dns.resolvers[0].family, AF_INET6, "v6 resolver");
    is_int(spec->dns.resolvers[0].port, 5353, "port");
    is_int(spec->dns.resolvers[0].protocol, RESOLVER_DO53_UDP, "default do53-udp");
    ok(!spec->dns.block_direct_workload_dns, "default false");
    uint16_t want[] = { 1, 28, 65, 64, 255, 257 };
    is_int(spec->dns.n_allowed_qtypes, 6, "six types");
    for (size_t i = 0; i < ARRAY_SIZE(want) && i < spec->dns.n_allowed_qtypes; i++)
        is_int(spec->dns.allowed_qtypes[i], want[i], "qtype %zu", i);
    ok(spec->run.has_timeout_ms, "timeoutSeconds counts");
    is_int(spec->run.timeout_ms, 5000, "x1000");
    is_int(spec_effective_timeout_ms(spec), 5000, "smaller than ttl");
    is_int(spec->run.secret_delivery, SECRET_DELIVERY_RUNTIME_BROKER, "broker");
    is_int(spec->run.user.uid, 0, "root uid");
    ok(spec->run.limits.cpu_max.unlimited, "quota max");
    is_int(spec->run.limits.cpu_max.period_micros, 100000, "default period");
    ok(spec->run.limits.has_graceful_shutdown, "grace 0 given");
    ok(!spec->run.limits.has_memory_max, "no memory limit");
    is_str(spec->run.argv[2], "", "empty later argument allowed");
    spec_free(spec);
    spec_errors_free(&errs);
}

TEST(equal_timeouts_are_fine)
{
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    is_int(parse_q(RUN("{'argv':['x'],'timeoutMs':120000,'timeoutSeconds':120}"), &spec, &errs), 0,
           "same value twice");
    if (spec)
        is_int(spec_effective_timeout_ms(spec), 60000, "ttl (60 s) wins over 120 s");
    spec_free(spec);
    spec_errors_free(&errs);
}

TEST(effective_timeout)
{
    struct cell_spec s = { .ttl_seconds = 10 };
    is_int(spec_effective_timeout_ms(&s), 10000, "ttl only");
    s.run.has_timeout_ms = true;
    s.run.timeout_ms = 9999;
    is_int(spec_effective_timeout_ms(&s), 9999, "shorter timeout");
    s.run.timeout_ms = 10001;
    is_int(spec_effective_timeout_ms(&s), 10000, "ttl caps the timeout");
    s.run.timeout_ms = 10000;
    is_int(spec_effective_timeout_ms(&s), 10000, "equal");
}

TEST(names_and_qtypes)
{
    is_str(net_proto_name(NET_PROTO_UDP), "udp", "udp");
    is_str(resolver_proto_name(RESOLVER_DO53_TCP), "do53-tcp", "do53-tcp");
    is_str(secret_delivery_name(SECRET_DELIVERY_RUNTIME_BROKER), "runtimeBroker", "broker");
    is_int(dns_qtype_from_name("AAAA"), 28, "AAAA");
    is_int(dns_qtype_from_name("svcb"), 64, "case-insensitive");
    is_int(dns_qtype_from_name("TYPE65535"), 65535, "generic");
    is_int(dns_qtype_from_name("TYPE65536"), 0, "too big");
    is_int(dns_qtype_from_name("TYPE0"), 0, "zero");
    is_int(dns_qtype_from_name("TYPE012"), 0, "leading zero");
    is_int(dns_qtype_from_name("TYPE"), 0, "no number");
    is_int(dns_qtype_from_name("AXFR"), 0, "zone transfers are not in the vocabulary");
    is_int(dns_qtype_from_name(""), 0, "empty");
    is_str(dns_qtype_name(257), "CAA", "CAA");
    ok(dns_qtype_name(4242) == NULL, "unknown number");
}

/* ---------------- invalid specs ---------------- */

static const struct bad_case structure_cases[] = {
    { HEAD "'spec':{" BASE "},'extra':1}", "extra", "unknown key" },
    { RUN("{'argv':['x'],'limitz':{}}"), "spec.run.limitz", "unknown key" },
    { SPEC(BASE ",'Run':{}"), "spec.Run", "unknown key" },
    { EGRESS("[{'host':'a.com','port':1,'ports':2}]"), "spec.authority.egressRules[0].ports",
      "unknown key" },
    { SPEC("'id':'a','id':'b','authority':{},'lifetime':{'ttlSeconds':60}"), "spec.id",
      "duplicate key" },
    { SPEC("'i\\u0064':'a','id':'b','authority':{},'lifetime':{'ttlSeconds':60}"), "spec.id",
      "duplicate key" },
    { EGRESS("[{'host':'a.com','port':1},{'host':'b.com','port':2,'port':3}]"),
      "spec.authority.egressRules[1].port", "duplicate key" },
    { "{'apiVersion':'cellos.io/v1','apiVersion':'cellos.io/v1','kind':'ExecutionCell',"
      "'spec':{" BASE "}}", "apiVersion", "duplicate key" },
    { "{'kind':'ExecutionCell','spec':{" BASE "}}", "apiVersion", "is required" },
    { HEAD "'spec':[]}", "spec", "must be an object" },
    { HEAD "'spec':{'id':'t','lifetime':{'ttlSeconds':60}}}", "spec.authority", "is required" },
    { HEAD "'spec':{'id':'t','authority':{}}}", "spec.lifetime", "is required" },
    { HEAD "'spec':{'authority':{},'lifetime':{'ttlSeconds':60}}}", "spec.id", "is required" },
    { "{'apiVersion':'cellos.io/v2','kind':'ExecutionCell','spec':{" BASE "}}", "apiVersion",
      "must be \"cellos.io/v1\"" },
    { "{'apiVersion':'cellos.io/v1','kind':'Cell','spec':{" BASE "}}", "kind",
      "must be \"ExecutionCell\"" },
    { "[]", "(document)", "must be a JSON object" },
    { "{'apiVersion':'cellos.io/v1','kind':}", "kind",
      "invalid JSON: unexpected token near '}' (line 1, column 37)" },
    { SPEC("'id':'t','authority':{},'lifetime':{'ttlSeconds':99999999999999999999}"),
      "spec.lifetime.ttlSeconds",
      "invalid JSON: too big integer near '99999999999999999999' (line 1, column 129)" },
    { "", "(document)", "invalid JSON: '[' or '{' expected near end of file (line 1, column 0)" },
    { "{'a\\u0000b':1}", "[\"a\\x00b\"]", "key must not contain NUL" },
    { SPEC(BASE ",'correlation':{}"), "spec.correlation.correlationId", "is required" },
    { SPEC(BASE ",'correlation':{'correlationId':''}"), "spec.correlation.correlationId",
      "must not be empty" },
};

TEST(structure_errors)
{
    CHECK_BAD(structure_cases);
}

static const struct bad_case value_cases[] = {
    { SPEC("'id':'t','authority':{},'lifetime':{'ttlSeconds':'60'}"),
      "spec.lifetime.ttlSeconds", "must be an integer" },
    { SPEC("'id':'t','authority':{},'lifetime':{'ttlSeconds':60.0}"),
      "spec.lifetime.ttlSeconds", "must be an integer" },
    { SPEC("'id':'t','authority':{},'lifetime':{'ttlSeconds':0}"), "spec.lifetime.ttlSeconds",
      "must be 1..604800" },
    { SPEC("'id':'t','authority':{},'lifetime':{'ttlSeconds':604801}"),
      "spec.lifetime.ttlSeconds", "must be 1..604800" },
    { SPEC("'id':'t','authority':{},'lifetime':{'ttlSeconds':-5}"), "spec.lifetime.ttlSeconds",
      "must be 1..604800" },
    { SPEC("'id':'t','authority':{},'lifetime':{}"), "spec.lifetime.ttlSeconds", "is required" },
    { SPEC("'id':'','authority':{},'lifetime':{'ttlSeconds':1}"), "spec.id",
      "must be 1..128 characters" },
    { SPEC("'id':'a123456789012345678901234567890123456789012345678901234567890123456789"
           "0123456789012345678901234567890123456789012345678901234567890','authority':{},"
           "'lifetime':{'ttlSeconds':1}"),
      "spec.id", "must be 1..128 characters" },
    { SPEC("'id':'.hidden','authority':{},'lifetime':{'ttlSeconds':1}"), "spec.id",
      "must not start with '.'" },
    { SPEC("'id':'a/b','authority':{},'lifetime':{'ttlSeconds':1}"), "spec.id",
      "must contain only letters, digits, '.', '_' and '-'" },
    { SPEC("'id':7,'authority':{},'lifetime':{'ttlSeconds':1}"), "spec.id", "must be a string" },
    { AUTH("{'secretRefs':['']}"), "spec.authority.secretRefs[0]", "must not be empty" },
    { AUTH("{'secretRefs':['OK','A=B']}"), "spec.authority.secretRefs[1]",
      "must not contain '='" },
    { AUTH("{'secretRefs':['A\\u0000B']}"), "spec.authority.secretRefs[0]",
      "must not contain NUL" },
    { AUTH("{'secretRefs':'TOKEN'}"), "spec.authority.secretRefs", "must be an array" },
    { SPEC("'id':'t','lifetime':{'ttlSeconds':1},'authority':{'secretRefs':['../x']},"
           "'run':{'argv':['x'],'secretDelivery':'runtimeBroker'}"),
      "spec.authority.secretRefs[0]",
      "must be a single path segment (no '/' or '\\') with secretDelivery runtimeBroker" },
};

TEST(value_errors)
{
    CHECK_BAD(value_cases);
}

static const struct bad_case egress_cases[] = {
    { EGRESS("[{'host':'a.com','port':0}]"), "spec.authority.egressRules[0].port",
      "must be 1..65535" },
    { EGRESS("[{'host':'a.com','port':1},{'host':'b.com','port':2},{'host':'c.com','port':65536}]"),
      "spec.authority.egressRules[2].port", "must be 1..65535" },
    { EGRESS("[{'host':'a.com','port':'443'}]"), "spec.authority.egressRules[0].port",
      "must be an integer" },
    { EGRESS("[{'host':'a.com','port':1,'protocol':'icmp'}]"),
      "spec.authority.egressRules[0].protocol", "must be \"tcp\" or \"udp\"" },
    { EGRESS("[{'host':'a.com','port':1,'protocol':'TCP'}]"),
      "spec.authority.egressRules[0].protocol", "must be \"tcp\" or \"udp\"" },
    { EGRESS("[{'port':1}]"), "spec.authority.egressRules[0].host", "is required" },
    { EGRESS("['a.com']"), "spec.authority.egressRules[0]", "must be an object" },
    { EGRESS("[{'host':'10.0.0.0/33','port':1}]"), "spec.authority.egressRules[0].host",
      "invalid CIDR: prefix length must be 0..32" },
    { EGRESS("[{'host':'2001:db8::/129','port':1}]"), "spec.authority.egressRules[0].host",
      "invalid CIDR: prefix length must be 0..128" },
    { EGRESS("[{'host':'10.0.0.0/08','port':1}]"), "spec.authority.egressRules[0].host",
      "invalid CIDR: prefix length must be 0..32" },
    { EGRESS("[{'host':'10.0.0.0/','port':1}]"), "spec.authority.egressRules[0].host",
      "invalid CIDR: prefix length must be 0..32" },
    { EGRESS("[{'host':'10.0.0.1/8','port':1}]"), "spec.authority.egressRules[0].host",
      "invalid CIDR: address bits after the prefix length must be zero (write the network "
      "address, e.g. 10.0.0.0/8)" },
    { EGRESS("[{'host':'2001:db8::1/64','port':1}]"), "spec.authority.egressRules[0].host",
      "invalid CIDR: address bits after the prefix length must be zero (write the network "
      "address, e.g. 10.0.0.0/8)" },
    { EGRESS("[{'host':'10.0.0/8','port':1}]"), "spec.authority.egressRules[0].host",
      "invalid CIDR: the address is not an IPv4 or IPv6 address" },
    { EGRESS("[{'host':'example.com/24','port':1}]"), "spec.authority.egressRules[0].host",
      "invalid CIDR: the address is not an IPv4 or IPv6 address" },
    { EGRESS("[{'host':'1.2.3.256','port':1}]"), "spec.authority.egressRules[0].host",
      "invalid IPv4 address" },
    { EGRESS("[{'host':'2001:db8:::1','port':1}]"), "spec.authority.egressRules[0].host",
      "invalid IPv6 address" },
    { EGRESS("[{'host':'*.example.com','port':1}]"), "spec.authority.egressRules[0].host",
      "must be a hostname, IP address or CIDR; wildcards belong in "
      "dnsAuthority.hostnameAllowlist" },
    { EGRESS("[{'host':'a..example.com','port':1}]"), "spec.authority.egressRules[0].host",
      "empty label" },
    { EGRESS("[{'host':'','port':1}]"), "spec.authority.egressRules[0].host",
      "must not be empty" },
    { EGRESS("[{'host':'bad host.com','port':1}]"), "spec.authority.egressRules[0].host",
      "invalid character (allowed: letters, digits, '-', '_', '.')" },
};

TEST(egress_errors)
{
    CHECK_BAD(egress_cases);
}

#define AL(entry) DNS("{'hostnameAllowlist':['ok.example.com'," entry "]}")
#define AL_PATH "spec.authority.dnsAuthority.hostnameAllowlist[1]"
#define LONG63 "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abc"

static const struct bad_case dns_cases[] = {
    { AL("'*'"), AL_PATH, "a bare '*' would admit every name; write *.example.com" },
    { AL("'*.'"), AL_PATH, "'*.' must be followed by a name" },
    { AL("'a.*.b'"), AL_PATH, "'*' is only allowed as the whole first label (*.example.com)" },
    { AL("'**.x'"), AL_PATH, "'*' is only allowed as the whole first label (*.example.com)" },
    { AL("'*x.com'"), AL_PATH, "'*' is only allowed as the whole first label (*.example.com)" },
    { AL("'*.*.x.com'"), AL_PATH, "'*' is only allowed as the whole first label (*.example.com)" },
    { AL("''"), AL_PATH, "must not be empty" },
    { AL("'a..b'"), AL_PATH, "empty label" },
    { AL("'.a.b'"), AL_PATH, "empty label" },
    { AL("'a.b..'"), AL_PATH, "empty label" },
    { AL("'" LONG63 "x.com'"), AL_PATH, "label longer than 63 characters" },
    { AL("'" LONG63 "." LONG63 "." LONG63 "." LONG63 ".com'"), AL_PATH,
      "name longer than 253 characters" },
    { AL("'exa mple.com'"), AL_PATH,
      "invalid character (allowed: letters, digits, '-', '_', '.')" },
    { AL("'10.0.0.1'"), AL_PATH, "last label is all digits: an IP address is not a hostname" },
    { AL("7"), AL_PATH, "must be a string" },
    { DNS("{'hostnameAllowlist':'a.com'}"), "spec.authority.dnsAuthority.hostnameAllowlist",
      "must be an array" },
    { DNS("{'blockDirectWorkloadDns':'yes'}"),
      "spec.authority.dnsAuthority.blockDirectWorkloadDns", "must be a boolean" },
    { DNS("{'resolvers':[{'resolverId':'r','endpoint':'not-an-ip:53'}]}"),
      "spec.authority.dnsAuthority.resolvers[0].endpoint",
      "must be IPv4:port or [IPv6]:port with an IP address, not a name" },
    { DNS("{'resolvers':[{'resolverId':'r','endpoint':'10.0.0.2'}]}"),
      "spec.authority.dnsAuthority.resolvers[0].endpoint", "must be IPv4:port or [IPv6]:port" },
    { DNS("{'resolvers':[{'resolverId':'r','endpoint':'10.0.0.2:0'}]}"),
      "spec.authority.dnsAuthority.resolvers[0].endpoint", "port must be 1..65535" },
    { DNS("{'resolvers':[{'resolverId':'r','endpoint':'10.0.0.2:65536'}]}"),
      "spec.authority.dnsAuthority.resolvers[0].endpoint", "port must be 1..65535" },
    { DNS("{'resolvers':[{'resolverId':'r','endpoint':'10.0.0.2:'}]}"),
      "spec.authority.dnsAuthority.resolvers[0].endpoint", "must be IPv4:port or [IPv6]:port" },
    { DNS("{'resolvers':[{'resolverId':'r','endpoint':'::1:53'}]}"),
      "spec.authority.dnsAuthority.resolvers[0].endpoint",
      "IPv6 endpoints must be written [address]:port" },
    { DNS("{'resolvers':[{'resolverId':'r','endpoint':'[10.0.0.1]:53'}]}"),
      "spec.authority.dnsAuthority.resolvers[0].endpoint",
      "invalid IPv6 address between [ and ]" },
    { DNS("{'resolvers':[{'resolverId':'','endpoint':'10.0.0.2:53'}]}"),
      "spec.authority.dnsAuthority.resolvers[0].resolverId", "must not be empty" },
    { DNS("{'resolvers':[{'endpoint':'10.0.0.2:53'}]}"),
      "spec.authority.dnsAuthority.resolvers[0].resolverId", "is required" },
    { DNS("{'resolvers':[{'resolverId':'r','endpoint':'10.0.0.2:53','protocol':'doh'}]}"),
      "spec.authority.dnsAuthority.resolvers[0].protocol",
      "must be \"do53-udp\" or \"do53-tcp\"" },
    { DNS("{'resolvers':[{'resolverId':'r','endpoint':'10.0.0.2:53'},"
          "{'resolverId':'r','endpoint':'10.0.0.3:53'}]}"),
      "spec.authority.dnsAuthority.resolvers[1].resolverId", "duplicate resolverId" },
    { DNS("{'allowedQueryTypes':['A','BOGUS']}"),
      "spec.authority.dnsAuthority.allowedQueryTypes[1]",
      "unknown DNS query type (use a mnemonic such as A, AAAA, HTTPS, or TYPE<n>)" },
    { DNS("{'allowedQueryTypes':[]}"), "spec.authority.dnsAuthority.allowedQueryTypes",
      "must not be empty (omit it for the default A, AAAA, CNAME, HTTPS)" },
    { DNS("{'allowedQueryTypes':[1]}"), "spec.authority.dnsAuthority.allowedQueryTypes[0]",
      "must be a string" },
    { DNS("{'dnsProxy':true}"), "spec.authority.dnsAuthority.dnsProxy", "unknown key" },
};

TEST(dns_errors)
{
    CHECK_BAD(dns_cases);
}

static const struct bad_case run_cases[] = {
    { RUN("{'argv':[]}"), "spec.run.argv", "must not be empty" },
    { RUN("{'argv':['a\\u0000b']}"), "spec.run.argv[0]", "must not contain NUL" },
    { RUN("{'argv':['x',1]}"), "spec.run.argv[1]", "must be a string" },
    { RUN("{'argv':['']}"), "spec.run.argv[0]", "must not be empty" },
    { RUN("{'argv':'true'}"), "spec.run.argv", "must be an array" },
    { RUN("{'timeoutMs':5}"), "spec.run.argv", "is required" },
    { RUN("{'argv':['x'],'workingDirectory':'job'}"), "spec.run.workingDirectory",
      "must be an absolute path" },
    { RUN("{'argv':['x'],'workingDirectory':'/job/../etc'}"), "spec.run.workingDirectory",
      "must not contain '..' components" },
    { RUN("{'argv':['x'],'workingDirectory':'/job\\n'}"), "spec.run.workingDirectory",
      "must not contain control characters" },
    { RUN("{'argv':['x'],'timeoutMs':0}"), "spec.run.timeoutMs", "must be a positive integer" },
    { RUN("{'argv':['x'],'timeoutMs':1.5}"), "spec.run.timeoutMs", "must be an integer" },
    { RUN("{'argv':['x'],'timeoutSeconds':-1}"), "spec.run.timeoutSeconds",
      "must be a positive integer" },
    { RUN("{'argv':['x'],'timeoutSeconds':9223372036854776}"), "spec.run.timeoutSeconds",
      "must be at most 9223372036854775" },
    { RUN("{'argv':['x'],'timeoutMs':30000,'timeoutSeconds':31}"), "spec.run.timeoutSeconds",
      "differs from timeoutMs (give only one of them)" },
    { RUN("{'argv':['x'],'secretDelivery':'file'}"), "spec.run.secretDelivery",
      "must be \"env\" or \"runtimeBroker\"" },
    { RUN("{'argv':['x'],'user':'nobody'}"), "spec.run.user",
      "must be \"uid:gid\" in decimal, e.g. \"65534:65534\"" },
    { RUN("{'argv':['x'],'user':'1:2:3'}"), "spec.run.user",
      "must be \"uid:gid\" in decimal, e.g. \"65534:65534\"" },
    { RUN("{'argv':['x'],'user':'1000'}"), "spec.run.user",
      "must be \"uid:gid\" in decimal, e.g. \"65534:65534\"" },
    { RUN("{'argv':['x'],'user':'4294967295:0'}"), "spec.run.user",
      "uid and gid must be 0..4294967294" },
    { RUN("{'argv':['x'],'user':1000}"), "spec.run.user", "must be a string" },
    { LIMITS("{'memoryMaxBytes':0}"), "spec.run.limits.memoryMaxBytes",
      "must be a positive integer" },
    { LIMITS("{'cpuMax':{'quotaMicros':999}}"), "spec.run.limits.cpuMax.quotaMicros",
      "must be an integer 1000..17592186044415 or \"max\"" },
    { LIMITS("{'cpuMax':{'quotaMicros':'min'}}"), "spec.run.limits.cpuMax.quotaMicros",
      "must be an integer 1000..17592186044415 or \"max\"" },
    { LIMITS("{'cpuMax':{'quotaMicros':50000,'periodMicros':999}}"),
      "spec.run.limits.cpuMax.periodMicros", "must be 1000..1000000" },
    { LIMITS("{'cpuMax':{'quotaMicros':50000,'periodMicros':1000001}}"),
      "spec.run.limits.cpuMax.periodMicros", "must be 1000..1000000" },
    { LIMITS("{'cpuMax':{'periodMicros':100000}}"), "spec.run.limits.cpuMax.quotaMicros",
      "is required" },
    { LIMITS("{'cpuMax':'50000 100000'}"), "spec.run.limits.cpuMax", "must be an object" },
    { LIMITS("{'pidsMax':0}"), "spec.run.limits.pidsMax", "must be 1..4194304" },
    { LIMITS("{'gracefulShutdownSeconds':3601}"), "spec.run.limits.gracefulShutdownSeconds",
      "must be 0..3600" },
    { LIMITS("{'gracefulShutdownSeconds':-1}"), "spec.run.limits.gracefulShutdownSeconds",
      "must be 0..3600" },
    { LIMITS("{'memoryMax':1}"), "spec.run.limits.memoryMax", "unknown key" },
};

TEST(run_errors)
{
    CHECK_BAD(run_cases);
}

#define ART(name) EXPORT("[{'name':" name ",'path':'/job/x'}]")
#define ART_PATH "spec.export.artifacts[0].name"

static const struct bad_case export_cases[] = {
    { ART("'a/b'"), ART_PATH, "must be a single path segment (no '/' or '\\')" },
    { ART("'a\\\\b'"), ART_PATH, "must be a single path segment (no '/' or '\\')" },
    { ART("'..'"), ART_PATH, "must not contain '..'" },
    { ART("'x..y'"), ART_PATH, "must not contain '..'" },
    { ART("'.'"), ART_PATH, "must not be '.'" },
    { ART("'~root'"), ART_PATH, "must not start with '~'" },
    { ART("''"), ART_PATH, "must not be empty" },
    { ART("'a\\u0000b'"), ART_PATH, "must not contain NUL" },
    { ART("'a\\u001bb'"), ART_PATH, "must not contain control characters" },
    { EXPORT("[{'name':'r.json','path':'job/r.json'}]"), "spec.export.artifacts[0].path",
      "must be an absolute path" },
    { EXPORT("[{'name':'r.json'}]"), "spec.export.artifacts[0].path", "is required" },
    { EXPORT("[{'name':'r','path':'/a'},{'name':'r','path':'/b'}]"),
      "spec.export.artifacts[1].name", "duplicate artifact name" },
};

TEST(export_errors)
{
    CHECK_BAD(export_cases);
}

/* ---------------- limits of the document itself ---------------- */

static char *nested_arrays(size_t depth)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"apiVersion\":\"cellos.io/v1\",\"kind\":\"ExecutionCell\",\"spec\":{"
                 "\"id\":\"t\",\"authority\":{},\"lifetime\":{\"ttlSeconds\":60},"
                 "\"run\":{\"argv\":");
    for (size_t i = 0; i < depth; i++)
        buf_putc(&b, '[');
    for (size_t i = 0; i < depth; i++)
        buf_putc(&b, ']');
    buf_puts(&b, "}}}");
    return buf_steal(&b);
}

TEST(over_deep_json_names_the_crossing)
{
    /* root, spec, run are 3 levels; argv's arrays are the 4th onwards, so the
     * 33rd container is argv followed by 29 [0]. */
    _cleanup_free_ char *deep = nested_arrays(30);
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    is_int(spec_parse(deep, strlen(deep), &spec, &errs), -EINVAL, "too deep");
    is_int(errs.n, 1, "one error");
    struct buf want = BUF_INIT;
    buf_puts(&want, "spec.run.argv");
    for (int i = 0; i < 29; i++)
        buf_puts(&want, "[0]");
    if (errs.n) {
        is_str(errs.items[0].path, want.data, "path of the 33rd level");
        is_str(errs.items[0].message, "nesting deeper than 32 levels", "message");
    }
    spec_errors_free(&errs);
    buf_free(&want);

    _cleanup_free_ char *edge = nested_arrays(29); /* exactly 32 levels */
    is_int(spec_parse(edge, strlen(edge), &spec, &errs), -EINVAL, "deep but legal: schema error");
    if (errs.n)
        is_str(errs.items[0].message, "must be a string", "argv[0] is an array");
    spec_errors_free(&errs);

    _cleanup_free_ char *huge = nested_arrays(100000);
    is_int(spec_parse(huge, strlen(huge), &spec, &errs), -EINVAL, "very deep");
    is_int(errs.n, 1, "one error, no recursion");
    spec_errors_free(&errs);
}

TEST(size_limit)
{
    size_t len = SPEC_MAX_BYTES + 1;
    char *big = xcalloc(1, len + 1);
    memset(big, ' ', len);
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    is_int(spec_parse(big, len, &spec, &errs), -EINVAL, "too big");
    is_int(errs.n, 1, "one error");
    if (errs.n) {
        is_str(errs.items[0].path, "(document)", "path");
        is_str(errs.items[0].message, "larger than 1048576 bytes", "message");
    }
    spec_errors_free(&errs);
    free(big);
}

TEST(odd_keys_are_quoted_in_paths)
{
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    int r = parse_q(SPEC(BASE ",'a.b':1,'q\\'':2,'\\u00e9':3,"
                         "'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk':4"),
                    &spec, &errs);
    is_int(r, -EINVAL, "unknown keys");
    is_int(errs.n, 4, "four errors");
    if (errs.n == 4) {
        is_str(errs.items[0].path, "spec[\"a.b\"]", "dotted key quoted");
        is_str(errs.items[1].path, "spec[\"q\\\"\"]", "quote escaped");
        is_str(errs.items[2].path, "spec[\"\\xc3\\xa9\"]", "non-ASCII as bytes");
        is_str(errs.items[3].path,
               "spec[\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...\"]",
               "long key cut");
    }
    spec_errors_free(&errs);
}

/* ---------------- many errors at once ---------------- */

TEST(all_errors_are_reported)
{
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    int r = parse_q("{'apiVersion':'cellos.io/v2','kind':'ExecutionCell','spec':{"
                    "'id':'.x','authority':{'secretRefs':['A=1'],"
                    "'egressRules':[{'host':'ok.com','port':443},{'host':'10.0.0.1/8','port':0}],"
                    "'dnsAuthority':{'hostnameAllowlist':['*'],'resolvers':[{'resolverId':'r',"
                    "'endpoint':'not-an-ip:53'}]}},"
                    "'lifetime':{'ttlSeconds':0},"
                    "'run':{'argv':[],'limitz':{},'timeoutMs':1000,'timeoutSeconds':2},"
                    "'export':{'artifacts':[{'name':'..','path':'rel'}]}}}",
                    &spec, &errs);
    is_int(r, -EINVAL, "fails");
    static const char *const want[][2] = {
        { "apiVersion", "must be \"cellos.io/v1\"" },
        { "spec.id", "must not start with '.'" },
        { "spec.authority.secretRefs[0]", "must not contain '='" },
        { "spec.authority.egressRules[1].host",
          "invalid CIDR: address bits after the prefix length must be zero (write the network "
          "address, e.g. 10.0.0.0/8)" },
        { "spec.authority.egressRules[1].port", "must be 1..65535" },
        { "spec.authority.dnsAuthority.hostnameAllowlist[0]",
          "a bare '*' would admit every name; write *.example.com" },
        { "spec.authority.dnsAuthority.resolvers[0].endpoint",
          "must be IPv4:port or [IPv6]:port with an IP address, not a name" },
        { "spec.lifetime.ttlSeconds", "must be 1..604800" },
        { "spec.run.argv", "must not be empty" },
        { "spec.run.limitz", "unknown key" },
        { "spec.export.artifacts[0].name", "must not contain '..'" },
        { "spec.export.artifacts[0].path", "must be an absolute path" },
        { "spec.run.timeoutSeconds", "differs from timeoutMs (give only one of them)" },
    };
    is_int(errs.n, ARRAY_SIZE(want), "every error");
    for (size_t i = 0; i < errs.n && i < ARRAY_SIZE(want); i++) {
        is_str(errs.items[i].path, want[i][0], "error %zu path", i);
        is_str(errs.items[i].message, want[i][1], "error %zu message", i);
    }
    spec_errors_free(&errs);
}

TEST(every_duplicate_is_reported)
{
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    int r = parse_q(SPEC("'id':'a','id':'b','authority':{'secretRefs':[],'secretRefs':[]},"
                         "'lifetime':{'ttlSeconds':1,'ttlSeconds':1}"),
                    &spec, &errs);
    is_int(r, -EINVAL, "fails");
    is_int(errs.n, 3, "three duplicates");
    if (errs.n == 3) {
        is_str(errs.items[0].path, "spec.id", "first");
        is_str(errs.items[1].path, "spec.authority.secretRefs", "second");
        is_str(errs.items[2].path, "spec.lifetime.ttlSeconds", "third");
    }
    spec_errors_free(&errs);
}

TEST(error_count_is_capped)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"apiVersion\":\"cellos.io/v1\",\"kind\":\"ExecutionCell\",\"spec\":{" );
    for (int i = 0; i < 300; i++)
        buf_printf(&b, "\"k%d\":1,", i);
    buf_puts(&b, "\"id\":\"t\",\"authority\":{},\"lifetime\":{\"ttlSeconds\":60}}}");
    struct cell_spec *spec = NULL;
    struct spec_errors errs;
    is_int(spec_parse(b.data, b.len, &spec, &errs), -EINVAL, "fails");
    is_int(errs.n, SPEC_MAX_ERRORS + 1, "capped");
    if (errs.n == SPEC_MAX_ERRORS + 1) {
        is_str(errs.items[0].path, "spec.k0", "first unknown key");
        is_str(errs.items[SPEC_MAX_ERRORS].path, "(document)", "overflow entry");
        is_str(errs.items[SPEC_MAX_ERRORS].message, "more than 100 errors; the rest are not shown",
               "overflow message");
    }
    spec_errors_free(&errs);
    buf_free(&b);
}

TAP_MAIN
