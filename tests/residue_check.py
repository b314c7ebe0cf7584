#!/usr/bin/env python3
"""After the whole suite: nothing of ours may survive on the host. Prints TAP."""
import os
import subprocess

checks = []


def check(name, leftovers):
    checks.append((name, leftovers))


def cgroups():
    found = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        for d in dirs:
            if d.startswith("cellos_"):
                found.append(os.path.join(root, d))
    return found


def nft_tables():
    try:
        out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return []
    return [l for l in out.splitlines() if "cellos" in l]


def named_netns():
    try:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return []
    return [l for l in out.splitlines() if l.strip()]


def nsfs_mounts():
    """A network namespace outlives its processes only when something holds
    it, such as a bind mount of /proc/PID/ns/net."""
    with open("/proc/self/mountinfo") as f:
        return [l.strip() for l in f if " nsfs " in l and "net:" in l]


def mounts():
    with open("/proc/self/mounts") as f:
        return [l.strip() for l in f if "cellos" in l]


def processes():
    me = os.getpid()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        exe = os.path.basename(argv[0].decode(errors="replace")) if argv and argv[0] else ""
        if exe in ("cellos", "cellos-supervisor", "cell-probe") or b"cellos-test-marker" in b" ".join(argv):
            found.append(f"{pid}: {b' '.join(argv).decode(errors='replace')}")
    return found


def temp_files():
    return [os.path.join("/tmp", n) for n in os.listdir("/tmp") if n.startswith("cellos")]


check("no cellos cgroup left", cgroups())
check("no cellos nft table left", nft_tables())
check("no cellos mount left", mounts())
check("no named network namespace left", named_netns())
check("no network namespace pinned by a mount", nsfs_mounts())
check("no cellos process left", processes())
check("no cellos temp file left in /tmp", temp_files())

print(f"1..{len(checks)}")
for i, (name, left) in enumerate(checks, 1):
    if left:
        print(f"not ok {i} - {name}")
        for l in left[:20]:
            print(f"# left: {l}")
    else:
        print(f"ok {i} - {name}")
