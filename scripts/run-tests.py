#!/usr/bin/env python3
"""Runs every test meson knows about in each given build directory, parses
their TAP output, and ends with the one closing line `N passed, N failed,
N skipped` that CI reads. Unit and fuzz-replay tests run two at a time;
integration tests run one after another (they use real namespaces, cgroups
and ports). A residue check runs last."""
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAP_LINE = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*-?\s*(.*)$")


def introspect(build):
    out = subprocess.run(["meson", "introspect", "--tests", build],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def sanitizer_env(build):
    env = {}
    if "asan" in os.path.basename(build):
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1:halt_on_error=1"
        env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    return env


class Result:
    def __init__(self, name):
        self.name, self.passed, self.failed, self.skipped = name, 0, 0, 0
        self.failures, self.output, self.seconds = [], "", 0.0


def parse_tap(res, text, returncode):
    planned = None
    seen = 0
    for line in text.splitlines():
        m = re.match(r"^1\.\.(\d+)", line)
        if m:
            planned = int(m.group(1))
            continue
        m = TAP_LINE.match(line)
        if not m:
            continue
        seen += 1
        desc = m.group(3)
        if re.search(r"#\s*SKIP", desc, re.I):
            res.skipped += 1
        elif m.group(1) == "ok":
            res.passed += 1
        else:
            res.failed += 1
            res.failures.append(desc)
    if planned is not None and seen != planned:
        res.failed += 1
        res.failures.append(f"planned {planned} tests, saw {seen}")
    if returncode != 0 and res.failed == 0:
        res.failed += 1
        res.failures.append(f"exited with status {returncode}")
    if seen == 0 and planned is None and returncode == 0:
        res.failed += 1
        res.failures.append("printed no TAP")


def run_one(build, t):
    name = f"{os.path.basename(build)}:{t['name']}"
    res = Result(name)
    env = dict(os.environ)
    env.update(t.get("env") or {})
    env.update(sanitizer_env(build))
    env["CELLOS_BUILD_DIR"] = os.path.abspath(build)
    timeout = t.get("timeout") or 300
    start = time.monotonic()
    try:
        p = subprocess.run(t["cmd"], env=env, cwd=t.get("workdir") or build,
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        res.output = p.stdout + p.stderr
        parse_tap(res, p.stdout, p.returncode)
    except subprocess.TimeoutExpired as e:
        res.output = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        parse_tap(res, res.output, 0)
        res.failed += 1
        res.failures.append(f"timed out after {timeout}s")
    res.seconds = time.monotonic() - start
    return res


def report(res):
    status = "FAIL" if res.failed else "ok  "
    print(f"{status} {res.name:55s} {res.passed:4d} passed {res.failed:3d} failed "
          f"{res.skipped:3d} skipped {res.seconds:6.1f}s", flush=True)
    if res.failed:
        for f in res.failures[:20]:
            print(f"       - {f}")
        tail = res.output.strip().splitlines()[-40:]
        for line in tail:
            print(f"       | {line}")


def main():
    builds = sys.argv[1:] or ["build"]
    results = []
    for build in builds:
        tests = introspect(build)
        parallel = [t for t in tests if t.get("is_parallel", True) and "integration" not in t.get("suite", [])]
        serial = [t for t in tests if t not in parallel]
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for res in pool.map(lambda t: run_one(build, t), parallel):
                report(res)
                results.append(res)
        for t in serial:
            res = run_one(build, t)
            report(res)
            results.append(res)
    residue = run_one(builds[0], {"name": "residue-check",
                                  "cmd": [sys.executable, os.path.join(ROOT, "tests/residue_check.py")]})
    report(residue)
    results.append(residue)
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    skipped = sum(r.skipped for r in results)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
