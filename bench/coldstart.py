#!/usr/bin/env python3
"""bench/coldstart: cold start of a hardened cell running /bin/true, side by
side with bubblewrap, unshare(1) and runc in one hyperfine run; prints the
ratios to bwrap and the supervisor's peak RSS.

  make bench            # or: python3 bench/coldstart.py [--runs N]

Rows:
  cellos hardened   all namespaces (pid ipc net uts mnt), cgroup with memory
                    and pids limits, seccomp baseline, private tmpfs root with
                    the host tree read-only, no network
  bwrap             bwrap --unshare-all --ro-bind / / true
  unshare           unshare -pfmiun true
  runc              runc run on a bundle whose root is / read-only
  netns + nft + DNS proxy
                    the portable profile with CELLOS_SUBPROCESS_UNSHARE=net and
                    CELLOS_DNS_PROXY=1 on a spec with dnsAuthority: a netns,
                    its nft table (with the DNS redirect) and the proxy's
                    sockets in it; no other namespace, no cgroup, no seccomp.
                    `env` sets its variables (the one row that needs other
                    ones); its target ratio is printed less the cost of that
                    exec (env true minus true, measured in the same run)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CELLOS = os.environ.get("CELLOS_BIN") or os.path.join(ROOT, "build", "cellos")

SPEC = {"apiVersion": "cellos.io/v1", "kind": "ExecutionCell",
        "spec": {"id": "bench-cold", "authority": {"secretRefs": []},
                 "lifetime": {"ttlSeconds": 60},
                 "run": {"argv": ["/bin/true"], "secretDelivery": "env",
                         "limits": {"memoryMaxBytes": 268435456, "pidsMax": 64}}}}

# The DNS row: an allowlist and one declared resolver; /bin/true asks nothing.
DNS_SPEC = {"apiVersion": "cellos.io/v1", "kind": "ExecutionCell",
            "spec": {"id": "bench-cold-dns", "lifetime": {"ttlSeconds": 60},
                     "authority": {"secretRefs": [], "dnsAuthority": {
                         "hostnameAllowlist": ["api.example.com", "*.cdn.example.com"],
                         "blockDirectWorkloadDns": True,
                         "resolvers": [{"resolverId": "bench", "protocol": "do53-udp",
                                        "endpoint": "127.0.0.1:53"}]}},
                     "run": {"argv": ["/bin/true"], "secretDelivery": "env"}}}
DNS_ENV = ("env -u CELLOS_DEPLOYMENT_PROFILE -u CELLOS_CGROUP_PARENT "
           "CELLOS_SUBPROCESS_UNSHARE=net CELLOS_DNS_PROXY=1")


def runc_bundle(work):
    """An OCI bundle whose root is a bind mount of the host's / (runc cannot
    pivot_root into / itself), read-only; unmounted in main's finally."""
    if not shutil.which("runc"):
        return None
    bundle = os.path.join(work, "runc")
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(rootfs)
    subprocess.run(["mount", "--bind", "/", rootfs], check=True)
    subprocess.run(["runc", "spec", "--bundle", bundle], check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": rootfs, "readonly": True}
    # The hybrid host's v1 hierarchies cannot be mounted per container here.
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    cfg["process"]["args"] = ["/bin/true"]
    cfg["process"]["terminal"] = False
    with open(path, "w") as f:
        json.dump(cfg, f)
    return bundle


def peak_rss_kib(spec_path, env):
    """The supervisor's own high-water mark (VmHWM), polled until it exits.
    (wait4's ru_maxrss would also count the cell's processes.) The workload
    sleeps briefly so the poll sees the supervisor after setup."""
    with open(spec_path) as f:
        doc = json.load(f)
    doc["spec"]["run"]["argv"] = ["/bin/sleep", "0.3"]
    slow = spec_path + ".sleep.json"
    with open(slow, "w") as f:
        json.dump(doc, f)
    p = subprocess.Popen([CELLOS, "run", slow], env=env)
    peak = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.01)
    return peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--extra", action="append", default=[],
                    help="NAME=COMMAND: another row (e.g. from bench/dns)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-cold-")
    try:
        spec_path = os.path.join(work, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(SPEC, f)
        dns_spec_path = os.path.join(work, "dns-spec.json")
        with open(dns_spec_path, "w") as f:
            json.dump(DNS_SPEC, f)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "CELLOS_DEPLOYMENT_PROFILE": "hardened", "CELLOS_CGROUP_PARENT": "cellos-bench"}
        rows = [("cellos hardened", f"{CELLOS} run {spec_path}"),
                ("bwrap", "bwrap --unshare-all --ro-bind / / true"),
                ("unshare", "unshare -pfmiun true"),
                ("netns + nft + DNS proxy", f"{DNS_ENV} {CELLOS} run {dns_spec_path}")]
        bundle = runc_bundle(work)
        if bundle:
            rows.append(("runc", f"sh -c 'exec runc run --bundle {bundle} bench-$$'"))
        for extra in args.extra:
            name, cmd = extra.split("=", 1)
            rows.append((name, cmd))
        out = os.path.join(work, "hyperfine.json")
        cmd = ["hyperfine", "-N", "--warmup", "10", "--runs", str(args.runs), "--export-json", out]
        for name, command in rows:
            cmd += ["-n", name, command]
        # Not printed as rows: what the DNS row's `env` prefix costs.
        cmd += ["-n", "env true", "env true", "-n", "true", "true"]
        subprocess.run(cmd, check=True, env=dict(os.environ, **env), stdout=subprocess.DEVNULL)
        with open(out) as f:
            results = {r["command"]: r for r in json.load(f)["results"]}
        base = results["bwrap"]["median"]
        print(f"{'row':24s} {'median ms':>10s} {'mean ms':>9s} {'ratio to bwrap':>15s}")
        for name, _ in rows:
            r = results[name]
            print(f"{name:24s} {r['median'] * 1000:10.2f} {r['mean'] * 1000:9.2f} "
                  f"{r['median'] / base:14.2f}x")
        env_cost = results["env true"]["median"] - results["true"]["median"]
        dns = (results["netns + nft + DNS proxy"]["median"] - env_cost) / base
        print(f"netns + nft + DNS proxy / bwrap, less env's exec ({env_cost * 1000:.2f} ms): "
              f"{dns:.2f}x (target <= 1.5x: {'met' if dns <= 1.5 else 'NOT met'})")
        rss = [peak_rss_kib(spec_path, dict(os.environ, **env)) for _ in range(5)]
        print(f"supervisor peak RSS: {max(rss) / 1024:.2f} MiB (max of {len(rss)} runs)")
    finally:
        subprocess.run(["umount", os.path.join(work, "runc", "rootfs")], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
        for d in ("/sys/fs/cgroup/unified/cellos-bench", "/sys/fs/cgroup/memory/cellos-bench",
                  "/sys/fs/cgroup/cpu/cellos-bench", "/sys/fs/cgroup/pids/cellos-bench",
                  "/sys/fs/cgroup/cellos-bench"):
            try:
                os.rmdir(d)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main())
