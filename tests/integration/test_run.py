#!/usr/bin/env python3
"""Issue 2: a cell runs end to end through the real binary: exit statuses,
event order and shape, timeouts that leave nothing behind, secrets, the
workload's environment and descriptors, signals, and the JSONL sink."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import CELLOS, SUPERVISOR, PREFIX, Cell, check_cloudevent, main, run_cell, spec  # noqa: E402


def assert_lifecycle(cell, middle):
    assert cell.types() == ["lifecycle.v1.started"] + middle + ["lifecycle.v1.destroyed"], cell.types()
    for ev in cell.events:
        check_cloudevent(ev, "t-run")
    run_ids = {e["data"]["runId"] for e in cell.events}
    assert len(run_ids) == 1, run_ids


def test_true_exits_zero_with_ordered_events():
    cell = run_cell(spec(argv=["true"]))
    assert cell.rc == 0, cell.stderr
    assert_lifecycle(cell, ["command.v1.completed"])
    started = cell.of("lifecycle.v1.started")[0]["data"]
    assert started["specDigest"].startswith("sha256:") and len(started["specDigest"]) == 71
    assert started["backend"] == "stub"
    assert "isolation" in started
    done = cell.of("command.v1.completed")[0]["data"]
    assert done["exitCode"] == 0 and done["signal"] is None and done["oomKilled"] is False
    assert isinstance(done["durationMs"], int)
    destroyed = cell.events[-1]["data"]
    assert destroyed["outcome"] == "succeeded" and destroyed["terminalState"] == "clean"
    assert destroyed["residue"] == []


def test_spec_digest_is_over_the_file_bytes():
    import hashlib
    doc = spec(argv=["true"])
    raw = json.dumps(doc, indent=3)
    cell = run_cell(None, raw_spec=raw)
    want = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
    assert cell.of("lifecycle.v1.started")[0]["data"]["specDigest"] == want


def test_false_exits_one():
    cell = run_cell(spec(argv=["false"]))
    assert cell.rc == 1
    assert cell.of("command.v1.completed")[0]["data"]["exitCode"] == 1
    assert cell.events[-1]["data"]["outcome"] == "failed"


def test_exit_code_passes_through():
    cell = run_cell(spec(argv=["/bin/sh", "-c", "exit 42"]))
    assert cell.rc == 42, cell.rc


def test_correlation_id_in_every_event():
    doc = spec(argv=["true"])
    doc["spec"]["correlation"] = {"correlationId": "build-4711"}
    cell = run_cell(doc)
    assert all(e["data"]["correlationId"] == "build-4711" for e in cell.events)


def test_killed_by_signal_is_128_plus_n():
    cell = run_cell(spec(argv=["/bin/sh", "-c", "kill -9 $$"]))
    assert cell.rc == 137, cell.rc
    done = cell.of("command.v1.completed")[0]["data"]
    assert done["signal"] == 9 and done["exitCode"] == 137


def pids_with_marker(marker):
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


def test_timeout_kills_everything_within_two_seconds():
    marker = "cellos-test-marker-timeout"
    # A grandchild that ignores SIGTERM and leaves the process group.
    script = (f"trap '' TERM; setsid sh -c 'trap \"\" TERM; exec -a {marker} sleep 60' & "
              f"exec -a {marker} sleep 30")
    cell = run_cell(spec(argv=["/bin/bash", "-c", script], run_extra={"timeoutMs": 500}))
    assert cell.rc == 124, (cell.rc, cell.stderr)
    assert cell.seconds < 2.0, cell.seconds
    failed = cell.of("command.v1.failed")
    assert len(failed) == 1 and failed[0]["data"]["reasonCode"] == "run_timeout", cell.types()
    assert cell.events[-1]["data"]["terminalState"] == "forced"
    time.sleep(0.2)
    assert pids_with_marker(marker) == [], "processes left behind"


def test_ttl_bounds_the_run():
    cell = run_cell(spec(argv=["sleep", "30"], ttl=1))
    assert cell.rc == 124 and cell.seconds < 3.0, (cell.rc, cell.seconds)


def test_background_process_killed_at_teardown():
    marker = "cellos-test-marker-daemon"
    cell = run_cell(spec(argv=["/bin/bash", "-c", f"(exec -a {marker} sleep 60 &) ; exit 0"]))
    assert cell.rc == 0
    time.sleep(0.2)
    assert pids_with_marker(marker) == []


def test_spec_from_stdin():
    for program in ("cellos", "supervisor"):
        cell = run_cell(spec(argv=["true"]), stdin_spec=True, program=program)
        assert cell.rc == 0, (program, cell.stderr)
        assert cell.types()[-1] == "lifecycle.v1.destroyed"


def test_missing_secret_exits_125_before_anything_runs():
    with tempfile.TemporaryDirectory() as d:
        marker = os.path.join(d, "ran")
        doc = spec(argv=["/bin/sh", "-c", f"touch {marker}"], authority={"secretRefs": ["API_KEY"]})
        cell = run_cell(doc)
        assert cell.rc == 125, cell.rc
        assert not os.path.exists(marker)
        assert "CELLOS_SECRET_API_KEY" in cell.stderr, cell.stderr
        assert cell.types() == ["command.v1.failed", "lifecycle.v1.destroyed"], cell.types()
        assert cell.events[0]["data"]["reasonCode"] == "secret_unavailable"
        assert cell.events[-1]["data"]["outcome"] == "failed"


def env_of(cell):
    return dict(line.split("=", 1) for line in cell.stdout.splitlines() if "=" in line)


def test_workload_sees_only_allowed_environment():
    secret = "s3cr3t-value-9f8e7d"
    doc = spec(argv=["/usr/bin/env"], authority={"secretRefs": ["api-key"]})
    cell = run_cell(doc, env={"CELLOS_SECRET_API_KEY": secret, "LEAKY": "x", "HOME": "/root"})
    assert cell.rc == 0, cell.stderr
    env = env_of(cell)
    assert set(env) == {"PATH", "CELLOS_CELL_ID", "CELLOS_RUN_ID", "api-key"}, env
    assert env["PATH"] == "/usr/bin:/bin:/usr/local/bin"
    assert env["CELLOS_CELL_ID"] == "t-run"
    assert env["CELLOS_RUN_ID"] == cell.events[0]["data"]["runId"]
    assert env["api-key"] == secret


def test_file_broker_reads_secret_and_refuses_symlinks():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "token")
        with open(path, "w") as f:
            f.write("file-secret-abc\n")
        doc = spec(argv=["/usr/bin/env"], authority={"secretRefs": ["TOKEN"]})
        cell = run_cell(doc, env={"CELLOS_BROKER": "file", "CELLOS_SECRET_FILE_TOKEN": path})
        assert cell.rc == 0, cell.stderr
        assert env_of(cell)["TOKEN"] == "file-secret-abc"
        link = os.path.join(d, "link")
        os.symlink(path, link)
        cell = run_cell(doc, env={"CELLOS_BROKER": "file", "CELLOS_SECRET_FILE_TOKEN": link})
        assert cell.rc == 125, cell.rc


def test_no_secret_value_in_any_event():
    secret = "s3cr3t-never-logged-1234"
    for argv in (["true"], ["/nonexistent/cmd"], ["sleep", "5"]):
        doc = spec(argv=argv, authority={"secretRefs": ["TOKEN"]}, run_extra={"timeoutMs": 200})
        with tempfile.TemporaryDirectory() as d:
            events = os.path.join(d, "e.jsonl")
            run_cell(doc, env={"CELLOS_SECRET_TOKEN": secret, "CELLOS_JSONL_SINK_PATH": events})
            with open(events) as f:
                text = f.read()
            assert text and secret not in text


def test_no_inherited_descriptor():
    r, w = os.pipe()
    os.set_inheritable(r, True)
    os.set_inheritable(w, True)
    with tempfile.TemporaryDirectory() as d:
        sp = os.path.join(d, "spec.json")
        with open(sp, "w") as f:
            json.dump(spec(argv=["/bin/ls", "/proc/self/fd"]), f)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELLOS")}
        p = subprocess.run([CELLOS, "run", sp], env=env, capture_output=True, text=True,
                           pass_fds=(r, w), timeout=30)
    os.close(r)
    os.close(w)
    fds = sorted(int(x) for x in p.stdout.split())
    # 0-2 plus the one ls opens to read the directory.
    assert fds[:3] == [0, 1, 2] and len(fds) == 4, fds


def test_working_directory():
    with tempfile.TemporaryDirectory() as d:
        cell = run_cell(spec(argv=["/bin/pwd"], run_extra={"workingDirectory": d}))
        assert cell.rc == 0 and cell.stdout.strip() == d, (cell.stdout, cell.stderr)


def test_not_found_is_127_and_not_executable_is_126():
    cell = run_cell(spec(argv=["/no/such/program"]))
    assert cell.rc == 127, cell.rc
    failed = cell.of("command.v1.failed")[0]["data"]
    assert failed["reasonCode"] == "exec_failed"
    assert cell.types() == ["lifecycle.v1.started", "command.v1.failed", "lifecycle.v1.destroyed"]
    cell = run_cell(spec(argv=["no-such-program-anywhere"]))
    assert cell.rc == 127
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "script")
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(path, 0o644)
        cell = run_cell(spec(argv=[path]))
        assert cell.rc == 126, cell.rc


def test_argv0_allow_prefixes():
    cell = run_cell(spec(argv=["/usr/bin/true"]), env={"CELLOS_RUN_ARGV0_ALLOW_PREFIXES": "/opt/,/usr/bin/"})
    assert cell.rc == 0, cell.stderr
    with tempfile.TemporaryDirectory() as d:
        marker = os.path.join(d, "ran")
        cell = run_cell(spec(argv=["/bin/touch", marker]),
                        env={"CELLOS_RUN_ARGV0_ALLOW_PREFIXES": "/opt/,/usr/bin/"})
        assert cell.rc == 2 and not os.path.exists(marker)
        assert "CELLOS_RUN_ARGV0_ALLOW_PREFIXES" in cell.stderr


def test_sigterm_is_forwarded_then_sigkill_after_grace():
    with tempfile.TemporaryDirectory() as d:
        events = os.path.join(d, "e.jsonl")
        sp = os.path.join(d, "spec.json")
        marker = "cellos-test-marker-grace"
        # The workload ignores SIGTERM: SIGKILL must follow after 1 s.
        doc = spec(argv=["/bin/bash", "-c", f"trap '' TERM; exec -a {marker} sleep 30"],
                   run_extra={"limits": {"gracefulShutdownSeconds": 1}})
        with open(sp, "w") as f:
            json.dump(doc, f)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELLOS")}
        env["CELLOS_JSONL_SINK_PATH"] = events
        p = subprocess.Popen([CELLOS, "run", sp], env=env, stderr=subprocess.PIPE)
        time.sleep(0.5)
        start = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
        took = time.monotonic() - start
        assert rc == 128 + 9, rc
        assert 0.8 < took < 3.0, took
        with open(events) as f:
            evs = [json.loads(l) for l in f]
        assert evs[-1]["type"] == PREFIX + "lifecycle.v1.destroyed"
        assert evs[-1]["data"]["terminalState"] == "forced"
        assert pids_with_marker(marker) == []


def test_sigterm_graceful_stop():
    with tempfile.TemporaryDirectory() as d:
        sp = os.path.join(d, "spec.json")
        with open(sp, "w") as f:
            json.dump(spec(argv=["sleep", "30"]), f)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELLOS")}
        p = subprocess.Popen([CELLOS, "run", sp], env=env, stderr=subprocess.PIPE)
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=5) == 128 + 15


def test_spec_without_run():
    cell = run_cell(spec())
    assert cell.rc == 0, cell.stderr
    assert cell.types() == ["lifecycle.v1.started", "lifecycle.v1.destroyed"]


def test_invalid_spec_exits_2_and_names_the_path():
    doc = spec(argv=["true"])
    doc["spec"]["run"]["limitz"] = {}
    cell = run_cell(doc)
    assert cell.rc == 2 and cell.events == []
    assert "spec.run.limitz" in cell.stderr, cell.stderr
    with tempfile.TemporaryDirectory() as d:
        sp = os.path.join(d, "s.json")
        with open(sp, "w") as f:
            json.dump(doc, f)
        p = subprocess.run([CELLOS, "validate", sp], capture_output=True, text=True)
        assert p.returncode == 2 and "spec.run.limitz" in p.stderr
        with open(sp, "w") as f:
            json.dump(spec(argv=["true"]), f)
        p = subprocess.run([CELLOS, "validate", sp], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr


def test_noop_sink_still_mirrors_jsonl():
    cell = run_cell(spec(argv=["true"]), env={"CELL_OS_USE_NOOP_SINK": "1"})
    assert cell.rc == 0 and len(cell.events) == 3


def test_jsonl_alias_variable():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "alias.jsonl")
        cell = run_cell(spec(argv=["true"]), env={"CELL_OS_JSONL_EVENTS": path,
                                                   "CELLOS_JSONL_SINK_PATH": ""})
        assert cell.rc == 0
        with open(path) as f:
            assert len(f.readlines()) == 3


def test_full_disk_is_sink_full_and_never_a_torn_line():
    with tempfile.TemporaryDirectory() as d:
        sp = os.path.join(d, "spec.json")
        with open(sp, "w") as f:
            json.dump(spec(argv=["true"]), f)
        mnt = os.path.join(d, "mnt")
        os.mkdir(mnt)
        # A 12 KiB tmpfs, filled until ~1.5 KiB remain, in a private mount
        # namespace so nothing is left mounted.
        script = (f"mount -t tmpfs -o size=12k tmpfs {mnt} && "
                  f"head -c 10700 /dev/zero > {mnt}/fill; "
                  f"{CELLOS} run {sp}; echo rc=$?; cat {mnt}/events.jsonl > {d}/copy.jsonl")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELLOS")}
        env["CELLOS_JSONL_SINK_PATH"] = f"{mnt}/events.jsonl"
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                           env=env, capture_output=True, text=True, timeout=30)
        assert "rc=125" in p.stdout, (p.stdout, p.stderr)
        assert "sink full" in p.stderr, p.stderr
        with open(f"{d}/copy.jsonl") as f:
            text = f.read()
        for line in text.splitlines():
            json.loads(line)  # every line whole
        assert text == "" or text.endswith("\n")


def test_events_timeline():
    with tempfile.TemporaryDirectory() as d:
        events = os.path.join(d, "e.jsonl")
        run_cell(spec(argv=["true"]), env={"CELLOS_JSONL_SINK_PATH": events})
        p = subprocess.run([CELLOS, "events", events], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert len(lines) == 3
        assert "lifecycle.v1.started" in lines[0] and "lifecycle.v1.destroyed" in lines[2]
        assert "exitCode=0" in lines[1]
        assert "\033[" not in p.stdout  # no colour when not a tty


def test_help_and_version():
    p = subprocess.run([CELLOS, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("cellos ")
    p = subprocess.run([CELLOS, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "validate" in p.stdout
    p = subprocess.run([SUPERVISOR, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    p = subprocess.run([CELLOS, "frobnicate"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("cellos: ")


if __name__ == "__main__":
    main(globals())
