"""Shared helpers for integration tests: run the real cellos binary on a spec
and read back its events; a minimal TAP runner over test_* functions."""
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

BUILD = os.environ.get("CELLOS_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
CELLOS = os.path.abspath(os.path.join(BUILD, "cellos"))
SUPERVISOR = os.path.abspath(os.path.join(BUILD, "cellos-supervisor"))
PREFIX = "dev.cellos.events.cell."


def spec(cell_id="t-run", argv=None, ttl=60, run_extra=None, authority=None, **top):
    """A cellos.io/v1 ExecutionCell document as a dict."""
    s = {"id": cell_id, "authority": authority or {"secretRefs": []},
         "lifetime": {"ttlSeconds": ttl}}
    if argv is not None:
        s["run"] = {"secretDelivery": "env", "argv": argv}
        s["run"].update(run_extra or {})
    s.update(top)
    return {"apiVersion": "cellos.io/v1", "kind": "ExecutionCell", "spec": s}


class Cell:
    """The outcome of one `cellos run`."""

    def __init__(self, rc, stdout, stderr, events, seconds):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        self.events, self.seconds = events, seconds

    def types(self):
        return [e["type"][len(PREFIX):] if e["type"].startswith(PREFIX) else e["type"]
                for e in self.events]

    def of(self, short_type):
        return [e for e in self.events if e["type"] == PREFIX + short_type]


def run_cell(doc, env=None, timeout=60, stdin_spec=False, program=None, raw_spec=None,
             extra_env_clear=True, preexec_fn=None):
    """Write the spec, run the binary with a fresh JSONL sink, return a Cell."""
    with tempfile.TemporaryDirectory(prefix="it-") as d:
        events_path = os.path.join(d, "events.jsonl")
        spec_path = os.path.join(d, "spec.json")
        body = raw_spec if raw_spec is not None else json.dumps(doc)
        with open(spec_path, "w") as f:
            f.write(body)
        e = {k: v for k, v in os.environ.items()
             if not (extra_env_clear and (k.startswith("CELLOS_") or k.startswith("CELL_OS_")))}
        e["CELLOS_JSONL_SINK_PATH"] = events_path
        e.update(env or {})
        if program == "supervisor":
            argv = [SUPERVISOR, "-" if stdin_spec else spec_path]
        else:
            argv = [CELLOS, "run", "-" if stdin_spec else spec_path]
        start = time.monotonic()
        p = subprocess.run(argv, env=e, input=body if stdin_spec else None,
                           capture_output=True, text=True, timeout=timeout,
                           preexec_fn=preexec_fn)
        seconds = time.monotonic() - start
        events = []
        if os.path.exists(events_path):
            with open(events_path) as f:
                events = [json.loads(line) for line in f if line.strip()]
        return Cell(p.returncode, p.stdout, p.stderr, events, seconds)


def check_cloudevent(ev, cell_id):
    """Every envelope field of CONTRACT section 5."""
    assert ev["specversion"] == "1.0", ev
    assert ev["id"].startswith("urn:cellos:event:") and len(ev["id"]) == 17 + 36, ev["id"]
    assert ev["source"].startswith("urn:cellos:host:"), ev["source"]
    assert ev["type"].startswith("dev.cellos.events."), ev["type"]
    assert len(ev["time"]) == 24 and ev["time"].endswith("Z") and ev["time"][19] == ".", ev["time"]
    assert ev["datacontenttype"] == "application/json"
    assert ev["subject"] == "urn:cellos:cell:" + cell_id
    d = ev["data"]
    assert d["cellId"] == cell_id and d["specId"] == cell_id, d
    assert len(d["runId"]) == 36, d


class Skip(Exception):
    pass


def main(module_globals):
    tests = [(n, f) for n, f in module_globals.items() if n.startswith("test_") and callable(f)]
    print(f"1..{len(tests)}", flush=True)
    failed = 0
    for i, (name, fn) in enumerate(tests, 1):
        try:
            fn()
            print(f"ok {i} - {name}", flush=True)
        except Skip as s:
            print(f"ok {i} - {name} # SKIP {s}", flush=True)
        except Exception:
            failed += 1
            print(f"not ok {i} - {name}", flush=True)
            for line in traceback.format_exc().splitlines():
                print(f"# {line}", flush=True)
    sys.exit(1 if failed else 0)
