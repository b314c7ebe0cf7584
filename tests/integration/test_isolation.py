#!/usr/bin/env python3
"""Issue 3: a hardened cell contains the escape probe; limits hold under
abuse; namespaces, users and secret files are as the contract says; nothing
is left behind, even by a supervisor killed with SIGKILL."""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, CELLOS, PREFIX, Skip, main, run_cell, spec  # noqa: E402

PY = "/usr/bin/python3"
HARDENED = {"CELLOS_DEPLOYMENT_PROFILE": "hardened"}


def leaves():
    return sorted(glob.glob("/sys/fs/cgroup/**/cellos_*", recursive=True))


def in_cell_copy(path):
    """Cells get a fresh /tmp: copy a helper binary to a host path they see."""
    d = tempfile.mkdtemp(prefix="cellos-it-", dir="/var/tmp")
    os.chmod(d, 0o755)
    dst = os.path.join(d, os.path.basename(path))
    shutil.copy2(path, dst)
    return d, dst


def test_escape_probe_contained_in_hardened_cell():
    probe_src = os.path.join(BUILD, "tests", "helpers", "cell-probe")
    d, probe = in_cell_copy(probe_src)
    target = subprocess.Popen(["sleep", "60"])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    try:
        argv = [probe, "--target-pid", str(target.pid), "--target-comm", "sleep",
                "--supervisor-pid", str(os.getpid()), "--host-port",
                str(listener.getsockname()[1]), "--host-hostname", socket.gethostname()]
        cell = run_cell(spec(argv=argv, run_extra={"workingDirectory": "/work"}), env=HARDENED,
                        timeout=120)
        assert cell.rc == 0, (cell.rc, cell.stderr[-2000:])
        attempts = json.loads(cell.stdout)["attempts"]
        assert len(attempts) >= 30, len(attempts)
        skipped = [a["name"] for a in attempts if a["detail"].startswith("skipped:")]
        assert skipped == [], skipped
        escaped = [f'{a["name"]}: {a["detail"]}' for a in attempts if a["escaped"]]
        assert escaped == [], escaped
        assert target.poll() is None, "the host process was killed"
    finally:
        target.kill()
        target.wait()
        listener.close()
        shutil.rmtree(d)


def test_probe_notices_escapes_in_an_unconfined_cell():
    """The same probe run through cellos without isolation does escape: the
    contained result above is the cell's doing, not the probe's blindness."""
    probe_src = os.path.join(BUILD, "tests", "helpers", "cell-probe")
    d, probe = in_cell_copy(probe_src)
    try:
        cell = run_cell(spec(argv=[probe, "--only", "mount-tmpfs,unshare-net,raw-socket"]))
        attempts = {a["name"]: a for a in json.loads(cell.stdout)["attempts"]}
        assert all(a["escaped"] for a in attempts.values()), attempts
    finally:
        shutil.rmtree(d)


def cell_shell(script, env=None, **run_extra):
    return run_cell(spec(argv=["/bin/sh", "-c", script], run_extra=run_extra), env=env)


def test_uts_net_pid_namespaces():
    cell = cell_shell("hostname; echo pid=$$; ls /sys/class/net; cat /sys/class/net/lo/operstate",
                      env={"CELLOS_SUBPROCESS_UNSHARE": "uts,net,pid,mnt"})
    assert cell.rc == 0, cell.stderr
    lines = cell.stdout.split()
    assert lines[0] == "t-run" and socket.gethostname() != "t-run"
    assert lines[1] == "pid=2", lines  # PID 1 is the cell's init
    assert lines[2:] == ["lo", "unknown"], lines  # only loopback, and it is up
    started = cell.of("lifecycle.v1.started")[0]["data"]["isolation"]
    assert started["namespaces"] == ["pid", "net", "uts", "mnt"] and started["netns"] is True


def test_unknown_unshare_token_warns_and_is_ignored():
    cell = cell_shell("hostname", env={"CELLOS_SUBPROCESS_UNSHARE": "uts,bogus"})
    assert cell.rc == 0 and "bogus" in cell.stderr
    assert cell.stdout.strip() == "t-run"


def test_mount_namespace_view():
    with tempfile.TemporaryDirectory() as host_tmp:
        marker = os.path.join(host_tmp, "host-file")
        open(marker, "w").close()
        script = (f"test -e {marker} && echo host-tmp-visible; "
                  "touch /usr/cellos-x 2>/dev/null && echo usr-writable; "
                  "echo hi > /job/f && cat /job/f; "
                  "ls /dev | tr '\\n' ' '; echo; "
                  "touch /tmp/ok && echo tmp-writable; ls /proc | grep -c '^[0-9]'")
        cell = cell_shell(script, env={"CELLOS_SUBPROCESS_UNSHARE": "default"},
                          workingDirectory="/job")
        assert cell.rc == 0, cell.stderr
        out = cell.stdout
        assert "host-tmp-visible" not in out and "usr-writable" not in out
        assert "hi" in out and "tmp-writable" in out
        devs = out.splitlines()[1].split()
        assert set(devs) <= {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm",
                             "ptmx", "fd", "stdin", "stdout", "stderr"}, devs
        assert int(out.splitlines()[-1]) <= 4, "sees host processes"
        assert not os.path.exists("/usr/cellos-x")


def test_run_user_has_no_capabilities_and_owns_its_workspace():
    script = "id -u; id -g; stat -c %u /job; stat -c %u /tmp; grep -E '^Cap(Eff|Prm|Bnd|Amb)' /proc/self/status"
    cell = cell_shell(script, env={"CELLOS_SUBPROCESS_UNSHARE": "default"},
                      workingDirectory="/job", user="1234:2345")
    assert cell.rc == 0, cell.stderr
    lines = cell.stdout.splitlines()
    assert lines[:4] == ["1234", "2345", "1234", "1234"], lines
    for cap in lines[4:]:
        assert cap.split()[1] == "0000000000000000", cap


def test_root_in_netns_loses_net_admin_and_net_raw():
    cell = cell_shell("grep -E '^CapEff|^CapBnd' /proc/self/status",
                      env={"CELLOS_SUBPROCESS_UNSHARE": "net"})
    assert cell.rc == 0, cell.stderr
    for line in cell.stdout.splitlines():
        mask = int(line.split()[1], 16)
        assert not mask & (1 << 12) and not mask & (1 << 13), line  # NET_ADMIN, NET_RAW


def test_no_new_privs_always():
    cell = cell_shell("grep NoNewPrivs /proc/self/status")
    assert cell.stdout.split()[1] == "1", cell.stdout


def secret_doc(delivery):
    return spec(argv=["/bin/sh", "-c",
                      "echo dir=$CELLOS_SECRETS_DIR; env | grep -c TOKEN; "
                      "stat -c '%a %u' $CELLOS_SECRETS_DIR/TOKEN; cat $CELLOS_SECRETS_DIR/TOKEN"],
                authority={"secretRefs": ["TOKEN"]},
                run_extra={"secretDelivery": delivery, "user": "4321:4321"})


def test_runtime_broker_secret_files_with_and_without_mount_namespace():
    for unshare in ("default", ""):
        cell = run_cell(secret_doc("runtimeBroker"),
                        env={"CELLOS_SECRET_TOKEN": "tok-123", "CELLOS_SUBPROCESS_UNSHARE": unshare})
        assert cell.rc == 0, (unshare, cell.stderr)
        lines = cell.stdout.splitlines()
        secrets_dir = lines[0][4:]
        assert lines[1] == "0", "secret in the environment"
        assert lines[2] == "400 4321", lines
        assert lines[3] == "tok-123"
        if unshare == "":
            assert secrets_dir.startswith("/dev/shm/cellos-secrets-")
            assert not os.path.exists(secrets_dir), "secrets left on the host"
        else:
            assert secrets_dir == "/run/cellos/secrets"


def test_fork_bomb_stops_at_pids_max():
    bomb = ("import os,time\nn=0\ntry:\n    while True:\n        if os.fork()==0:\n"
            "            time.sleep(30); os._exit(0)\n        n+=1\nexcept OSError:\n    print(n, flush=True)\n")
    doc = spec(argv=[PY, "-c", bomb], run_extra={"timeoutMs": 4000, "limits": {"pidsMax": 32}})
    cell = run_cell(doc, env={"CELLOS_SUBPROCESS_UNSHARE": "pid,mnt"})
    assert cell.stdout.strip().isdigit(), (cell.stdout, cell.stderr)
    assert int(cell.stdout.strip()) < 32
    assert cell.types()[-1] == "lifecycle.v1.destroyed"
    assert leaves() == []


def test_memory_hog_is_oom_killed():
    hog = "x = []\nwhile True:\n    x.append(bytearray(16 << 20))\n"
    doc = spec(argv=[PY, "-c", hog], run_extra={"timeoutMs": 20000,
                                                 "limits": {"memoryMaxBytes": 64 << 20}})
    cell = run_cell(doc)
    assert cell.rc == 137, (cell.rc, cell.stderr)
    done = cell.of("command.v1.completed")[0]["data"]
    assert done["oomKilled"] is True and done["exitCode"] == 137, done
    assert cell.types()[-1] == "lifecycle.v1.destroyed"
    assert leaves() == []


def test_memory_hog_oom_killed_in_pid_namespace_too():
    hog = "x = []\nwhile True:\n    x.append(bytearray(16 << 20))\n"
    doc = spec(argv=[PY, "-c", hog], run_extra={"limits": {"memoryMaxBytes": 64 << 20}})
    cell = run_cell(doc, env={"CELLOS_SUBPROCESS_UNSHARE": "default"})
    assert cell.rc == 137, (cell.rc, cell.stderr)
    assert cell.of("command.v1.completed")[0]["data"]["oomKilled"] is True


def test_cpu_spinner_is_throttled_to_cpu_max():
    spin = ("import os,time\nt=time.monotonic()\nwhile time.monotonic()-t<2: pass\n"
            "u=os.times(); print(u.user+u.system)\n")
    doc = spec(argv=[PY, "-c", spin],
               run_extra={"limits": {"cpuMax": {"quotaMicros": 20000, "periodMicros": 100000}}})
    cell = run_cell(doc)
    assert cell.rc == 0, cell.stderr
    used = float(cell.stdout.strip())
    assert used <= 0.25 * 2 + 0.05, f"used {used:.2f}s of CPU in 2s"
    assert used >= 0.2, f"only {used:.2f}s: the spinner barely ran"


def test_env_limits_fill_what_the_spec_leaves_absent():
    cell = run_cell(spec(argv=["/bin/sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; "
                                                "cat /proc/self/cgroup | grep memory"]),
                    env={"CELLOS_CGROUP_MEMORY_MAX": "100663296", "CELLOS_CGROUP_CPU_MAX": "garbage"})
    assert cell.rc == 0, cell.stderr
    assert "CELLOS_CGROUP_CPU_MAX" in cell.stderr  # malformed: a warning
    path = cell.of("lifecycle.v1.started")[0]["data"]["isolation"]["cgroupPath"]
    assert path and "cellos_t-run_" in path, path


def test_hardened_refuses_when_it_cannot_enforce():
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o777)
        events = os.path.join(d, "e.jsonl")
        sp = os.path.join(d, "spec.json")
        marker = os.path.join(d, "ran")
        with open(sp, "w") as f:
            json.dump(spec(argv=["/bin/sh", "-c", f"touch {marker}"]), f)
        os.chmod(sp, 0o644)
        env = {"PATH": "/usr/bin:/bin", "CELLOS_DEPLOYMENT_PROFILE": "hardened",
               "CELLOS_JSONL_SINK_PATH": events}
        # An unprivileged supervisor can create neither cgroups nor namespaces.
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            CELLOS, "run", sp], env=env, capture_output=True, text=True, timeout=30)
        assert p.returncode == 125, (p.returncode, p.stderr)
        assert not os.path.exists(marker)
        with open(events) as f:
            evs = [json.loads(l) for l in f]
        assert evs[-1]["type"] == PREFIX + "lifecycle.v1.destroyed"
        assert evs[-1]["data"]["outcome"] == "failed"
        assert evs[-1]["data"]["reasonCode"] == "isolation_failed", evs[-1]
        assert not any(e["type"].endswith("lifecycle.v1.started") for e in evs)


def test_plan_prints_without_side_effects():
    with tempfile.TemporaryDirectory() as d:
        sp = os.path.join(d, "spec.json")
        with open(sp, "w") as f:
            json.dump(spec(argv=["true"], run_extra={"workingDirectory": "/job",
                                                      "limits": {"memoryMaxBytes": 1 << 28, "pidsMax": 10}}), f)
        before = leaves()
        p = subprocess.run([CELLOS, "plan", sp], env=dict(os.environ, **HARDENED),
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        for needle in ("namespaces: pid ipc net uts mnt", "65534:65534", "tmpfs    /job",
                       "memory.limit_in_bytes = 268435456", "pids.max = 10", "seccomp: baseline"):
            assert needle in p.stdout, (needle, p.stdout)
        assert leaves() == before


def test_probe_reports_this_host():
    p = subprocess.run([CELLOS, "probe", "--json"], capture_output=True, text=True)
    assert p.returncode == 0
    report = json.loads(p.stdout)
    for key in ("namespace pid", "user namespaces", "cgroups", "seccomp", "nftables", "NFLOG",
                "Landlock", "KVM", "runsc (gVisor)"):
        assert key in report, key
    assert report["namespace net"]["available"] is True
    assert report["cgroups"]["detail"].split(":")[0] in ("v1", "v2", "hybrid")


def test_sigkilled_supervisor_leaves_residue_that_reconcile_removes():
    with tempfile.TemporaryDirectory() as d:
        sp = os.path.join(d, "spec.json")
        with open(sp, "w") as f:
            json.dump(spec(argv=["sleep", "60"], authority={"secretRefs": ["K"]},
                           run_extra={"secretDelivery": "runtimeBroker",
                                      "limits": {"memoryMaxBytes": 1 << 28}}), f)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELLOS")}
        env["CELLOS_SECRET_K"] = "v"
        p = subprocess.Popen([CELLOS, "run", sp], env=env)
        deadline = time.monotonic() + 10
        while not leaves() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        p.send_signal(signal.SIGKILL)
        p.wait()
        left = leaves()
        secrets = glob.glob(f"/dev/shm/cellos-secrets-{p.pid}-*")
        assert left and secrets, (left, secrets)
        r = subprocess.run([CELLOS, "reconcile"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert leaves() == [] and not glob.glob(f"/dev/shm/cellos-secrets-{p.pid}-*"), r.stdout
        again = subprocess.run([CELLOS, "reconcile"], capture_output=True, text=True)
        assert again.returncode == 0 and "0 removed" in again.stdout, again.stdout
        out = subprocess.run(["pgrep", "-f", "sleep 60"], capture_output=True, text=True).stdout
        assert out.strip() == "" or all(int(x) != p.pid for x in out.split())


def test_two_hundred_cells_leave_nothing_behind():
    asan = "asan" in os.path.basename(BUILD)
    count = 60 if asan else 200  # the full 200 run in the plain build
    kinds = [
        (["true"], {}, 0),
        (["false"], {}, 1),
        (["sleep", "10"], {"timeoutMs": 100}, 124),
        ([PY, "-c", "x=[]\nwhile True: x.append(bytearray(8<<20))"],
         {"limits": {"memoryMaxBytes": 48 << 20}}, 137),
    ]
    envs = [{}, {"CELLOS_SUBPROCESS_UNSHARE": "default"}]
    before_mounts = open("/proc/self/mounts").read().count("\n")
    before_tmp = set(glob.glob("/tmp/cellos*"))
    for i in range(count):
        argv, extra, want = kinds[i % 4]
        extra = dict(extra)
        extra.setdefault("limits", {})["pidsMax"] = 64
        cell = run_cell(spec(argv=argv, run_extra=extra), env=envs[(i // 4) % 2])
        assert cell.rc == want, (i, argv, cell.rc, cell.stderr[-500:])
        assert cell.types()[-1] == "lifecycle.v1.destroyed"
    assert leaves() == []
    assert open("/proc/self/mounts").read().count("\n") == before_mounts
    assert glob.glob("/dev/shm/cellos-*") == []
    assert set(glob.glob("/tmp/cellos*")) - before_tmp == set()


if __name__ == "__main__":
    main(globals())
