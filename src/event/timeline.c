/* timeline.c: `cellos events FILE`: one aligned line per event, with colour
 * on a terminal. Signed envelopes are unwrapped to the event they carry. */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "event.h"
#include "verify.h"

#define COLOR_RED "\033[31m"
#define COLOR_GREEN "\033[32m"
#define COLOR_DIM "\033[2m"
#define COLOR_RESET "\033[0m"

static const char *const common_fields[] = { "cellId", "specId", "runId", "correlationId" };

static bool is_common_field(const char *key)
{
    for (size_t i = 0; i < ARRAY_SIZE(common_fields); i++)
        if (strcmp(key, common_fields[i]) == 0)
            return true;
    return false;
}

/* "key=value" for every type-specific field, in the order they were written. */
static void format_details(json_t *data, struct buf *out)
{
    const char *key;
    json_t *value;
    json_object_foreach(data, key, value) {
        if (is_common_field(key))
            continue;
        if (json_is_string(value)) {
            buf_printf(out, " %s=%s", key, json_string_value(value));
        } else {
            char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
            buf_printf(out, " %s=%s", key, text ? text : "?");
            free(text);
        }
    }
}

/* Red for anything that failed or was denied, green for clean successes. */
static const char *colour_of(json_t *data)
{
    static const char *const bad[][2] = {
        { "outcome", "failed" }, { "decision", "deny" }, { "verdict", "drop" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        const char *v = json_string_value(json_object_get(data, bad[i][0]));
        if (v && strcmp(v, bad[i][1]) == 0)
            return COLOR_RED;
    }
    if (json_object_get(data, "reasonCode") && !json_object_get(data, "decision"))
        return COLOR_RED;
    json_t *code = json_object_get(data, "exitCode");
    if (code && json_integer_value(code) != 0)
        return COLOR_RED;
    return COLOR_GREEN;
}

/* status: NULL without --keys; else the verifier's code for the line. */
static void print_event(const json_t *ev, const char *status, bool colour)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *time = json_string_value(json_object_get(ev, "time"));
    json_t *data = json_object_get(ev, "data");
    if (!json_is_object(data))
        data = NULL;
    const char *cell = json_string_value(json_object_get(data, "cellId"));
    const char *run = json_string_value(json_object_get(data, "runId"));
    if (type && str_has_prefix(type, EVENT_TYPE_PREFIX))
        type += strlen(EVENT_TYPE_PREFIX);
    const char *clock = time && strlen(time) >= 23 ? time + 11 : (time ? time : "?");
    _cleanup_buf_ struct buf details = BUF_INIT;
    format_details(data, &details);
    char mark[48] = "";
    if (status) {
        bool good = strcmp(status, "ok") == 0;
        snprintf(mark, sizeof(mark), "%s%-18s%s ", colour ? (good ? COLOR_GREEN : COLOR_RED) : "",
                 good ? "verified" : status, colour ? COLOR_RESET : "");
    }
    printf("%s%s%.12s%s  %-8.8s %-40s %s%s%s%s\n", mark, colour ? COLOR_DIM : "", clock,
           colour ? COLOR_RESET : "", run ? run : "?", type ? type : "?",
           colour ? colour_of(data) : "", cell ? cell : "?", details.data ? details.data : "",
           colour ? COLOR_RESET : "");
}

static int print_line(const char *line, size_t lineno, bool colour)
{
    json_error_t jerr;
    json_t *ev = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    if (!ev || !json_is_object(ev)) {
        printf("line %zu: not a JSON event (%s)\n", lineno, ev ? "not an object" : jerr.text);
        json_decref(ev);
        return -EINVAL;
    }
    const char *type = json_string_value(json_object_get(ev, "type"));
    bool is_signed = type && strcmp(type, EVENT_TYPE_SIGNED) == 0;
    json_t *inner = is_signed ? json_object_get(json_object_get(ev, "data"), "event") : ev;
    print_event(inner ? inner : ev, NULL, colour);
    json_decref(ev);
    return 0;
}

struct verified_timeline {
    bool colour;
    int bad;
};

/* With --keys every line goes through the verifier, which hands back the
 * inner event and its status; run-level findings (a truncated chain) come
 * at the end with no event. */
static void on_verified_line(const struct verify_line *line, void *userdata)
{
    struct verified_timeline *t = userdata;
    const char *status = verify_code_name(line->code);
    if (line->code != VERIFY_OK)
        t->bad++;
    if (line->event)
        print_event(line->event, status, t->colour);
    else
        printf("line %lu: %s: %s\n", line->lineno, status, line->message);
}

static int verified_timeline(FILE *f, const char *keys_path, bool colour)
{
    struct verify_keys *keys = NULL;
    struct cell_err err;
    if (verify_keys_load(keys_path, &keys, &err) < 0) {
        log_error("events: %s", err.msg);
        return 2;
    }
    struct verified_timeline t = { .colour = colour };
    struct verifier *v = verifier_new(keys, on_verified_line, &t);
    int r = verifier_feed_file(v, f, &err);
    if (r == 0)
        verifier_finish(v);
    else
        log_error("events: %s", err.msg);
    verifier_free(v);
    verify_keys_free(keys);
    return r < 0 ? 2 : t.bad ? 1 : 0;
}

static int plain_timeline(FILE *f, bool colour)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int bad = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        if (line[0] != '\n' && print_line(line, lineno, colour) < 0)
            bad++;
    }
    free(line);
    return bad ? 1 : 0;
}

int cmd_events(int argc, char **argv)
{
    const char *keys = NULL;
    if (argc == 4 && strcmp(argv[1], "--keys") == 0) {
        keys = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc != 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc == 2 ? stdout : stderr, "usage: cellos events [--keys FILE] EVENTS.jsonl\n");
        return argc == 2 ? 0 : 2;
    }
    FILE *f = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "re");
    if (!f) {
        log_error("%s: cannot open: %s", argv[1], strerror(errno));
        return 2;
    }
    bool colour = isatty(1) && !env_nonempty("NO_COLOR");
    int status = keys ? verified_timeline(f, keys, colour) : plain_timeline(f, colour);
    if (f != stdin)
        fclose(f);
    return status;
}
