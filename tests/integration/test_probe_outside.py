#!/usr/bin/python3
"""Run cell-probe unconfined, as root, and check that every attempt escapes.

The in-cell tests assert that each attempt of cell-probe fails inside a
hardened cell. That only means something if each attempt is able to succeed:
this test runs the probe outside any cell, as root, with everything it can
reach (a host process to trace, a loopback listener, a writable "read-only"
path, a terminal, a stray descriptor and variable) and expects escaped=true
from every attempt. Attempts that this host cannot let succeed even for root
(a sysctl, lockdown, a missing device) are skipped with the reason, checked
here rather than taken from the probe. It also checks that the probe left
nothing behind: no mount, no file, no directory, the target still running,
the hostname unchanged.

Usage: test_probe_outside.py PATH-TO-cell-probe      (prints TAP)
"""
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

MIN_ATTEMPTS = 32


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def lockdown_active():
    mode = read("/sys/kernel/security/lockdown") or ""
    return "[integrity]" in mode or "[confidentiality]" in mode


def block_devices():
    return [p for p in glob.glob("/dev/*") if os.path.exists(p) and
            os.stat(p, follow_symlinks=False).st_mode & 0o170000 == 0o060000]


# attempt name -> function returning why this host cannot let it succeed
# even for root, or None.
HOST_LIMITS = {
    "unshare-user": lambda: read("/proc/sys/user/max_user_namespaces") == "0"
    and "user namespaces disabled (max_user_namespaces=0)",
    "clone-newuser": lambda: read("/proc/sys/user/max_user_namespaces") == "0"
    and "user namespaces disabled (max_user_namespaces=0)",
    "clone3-newuser": lambda: read("/proc/sys/user/max_user_namespaces") == "0"
    and "user namespaces disabled (max_user_namespaces=0)",
    "kexec-load": lambda: (read("/proc/sys/kernel/kexec_load_disabled") == "1"
                           and "kexec_load_disabled=1")
    or (lockdown_active() and "kernel lockdown refuses kexec even to root"),
    "init-module": lambda: (read("/proc/sys/kernel/modules_disabled") == "1"
                            and "modules_disabled=1")
    or (lockdown_active() and "kernel lockdown refuses unsigned modules"),
    "io-uring-setup": lambda: read("/proc/sys/kernel/io_uring_disabled") == "2"
    and "io_uring_disabled=2",
    "dev-kmsg": lambda: not os.path.exists("/dev/kmsg") and "no /dev/kmsg",
    "dev-block": lambda: not block_devices() and "no block device in /dev",
    "write-sys": lambda: not any(os.path.exists(p) for p in (
        "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/mm/ksm/run",
        "/sys/kernel/profiling", "/sys/power/state", "/sys/kernel/uevent_helper"))
    and "none of the probe's /sys files exists here",
    "write-proc-sys": lambda: not any(os.path.exists(p) for p in (
        "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe", "/proc/sysrq-trigger"))
    and "none of the probe's /proc/sys files exists here",
}


class Tap:
    def __init__(self):
        self.lines = []
        self.failed = 0

    def ok(self, good, name, why=""):
        n = len(self.lines) + 1
        if not good:
            self.failed += 1
        suffix = f" # {why}" if why and not good else ""
        self.lines.append(f"{'ok' if good else 'not ok'} {n} - {name}{suffix}")

    def skip(self, name, why):
        self.lines.append(f"ok {len(self.lines) + 1} - {name} # SKIP {why}")

    def done(self):
        print(f"1..{len(self.lines)}")
        print("\n".join(self.lines))
        sys.stdout.flush()
        return 1 if self.failed else 0


def run_probe(probe, args, **kw):
    out = subprocess.run([probe] + args, capture_output=True, text=True,
                         timeout=240, **kw)
    if out.returncode != 0:
        raise RuntimeError(f"cell-probe exited {out.returncode}: {out.stderr}")
    return json.loads(out.stdout)


def leftovers():
    """What a probe run could leave behind: our scratch dirs and mounts."""
    mounts = [l for l in (read("/proc/self/mountinfo") or "").splitlines()
              if "cellos-probe" in l]
    return set(glob.glob("/tmp/cellos-probe-*")), mounts


def process_state(pid):
    stat = read(f"/proc/{pid}/stat")
    return stat.rsplit(")", 1)[1].split()[0] if stat else None


def check_full_run(tap, probe):
    hostname = socket.gethostname()
    before_dirs, before_mounts = leftovers()
    target = subprocess.Popen(["sleep", "300"])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    master, slave = os.openpty()
    stray_r, stray_w = os.pipe()           # a descriptor above 2 to inherit
    tmp = tempfile.mkdtemp(prefix="cellos-probe-test-")
    ro_path = os.path.join(tmp, "ro-probe")
    env = dict(os.environ, PROBE_FOREIGN_VARIABLE="1")
    try:
        result = run_probe(probe, [
            "--target-pid", str(target.pid), "--target-comm", "sleep",
            "--supervisor-pid", str(os.getpid()), "--host-port", str(port),
            "--ro-path", ro_path, "--host-hostname", hostname,
        ], stdin=slave, pass_fds=(stray_r,), env=env)
        attempts = result["attempts"]
        names = [a["name"] for a in attempts]
        tap.ok(len(attempts) >= MIN_ATTEMPTS,
               f"at least {MIN_ATTEMPTS} attempts", f"only {len(attempts)}")
        tap.ok(len(set(names)) == len(names), "attempt names are unique")
        for a in attempts:
            limit = HOST_LIMITS.get(a["name"], lambda: None)()
            if limit and not a["escaped"]:
                tap.skip(f"{a['name']} escapes unconfined", limit)
            else:
                tap.ok(a["escaped"] is True, f"{a['name']} escapes unconfined",
                       a["detail"])
        state = process_state(target.pid)
        tap.ok(state in ("S", "R"), "the traced target runs on", f"state {state}")
    finally:
        target.kill()
        target.wait()
        for fd in (master, slave, stray_r, stray_w):
            os.close(fd)
        listener.close()
    tap.ok(not os.path.exists(ro_path), "the ro-path probe file was removed")
    os.rmdir(tmp)
    after_dirs, after_mounts = leftovers()
    tap.ok(after_dirs <= before_dirs, "no scratch directory left",
           " ".join(sorted(after_dirs - before_dirs)))
    tap.ok(len(after_mounts) <= len(before_mounts), "no mount left", str(after_mounts))
    tap.ok(socket.gethostname() == hostname, "hostname unchanged")


def check_cli(tap, probe):
    listed = subprocess.run([probe, "--list"], capture_output=True, text=True,
                            check=True).stdout.split()
    tap.ok(len(listed) >= MIN_ATTEMPTS, "--list names every attempt")
    only = run_probe(probe, ["--only", "chroot,kill-target,supervisor-environ"],
                     stdin=subprocess.DEVNULL)["attempts"]
    tap.ok([a["name"] for a in only] == ["chroot", "kill-target", "supervisor-environ"],
           "--only runs the named attempts in table order")
    skipped = [a for a in only if a["detail"].startswith("skipped:")]
    tap.ok(len(skipped) == 2 and not any(a["escaped"] for a in skipped),
           "attempts without their input are skipped, not escapes")
    bad = subprocess.run([probe, "--target-pid", "x"], capture_output=True, text=True)
    tap.ok(bad.returncode == 2 and "--target-pid" in bad.stderr, "a bad option is a usage error")


def main():
    if len(sys.argv) != 2:
        print("usage: test_probe_outside.py PATH-TO-cell-probe", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root: the probe must escape unconfined")
        return 0
    probe = sys.argv[1]
    tap = Tap()
    check_full_run(tap, probe)
    check_cli(tap, probe)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
