#!/usr/bin/env python3
"""bench/l7: the L7 (SNI) egress proxy side by side with sniproxy and a
direct connection, in one run: connection rate and bulk throughput.

  /usr/bin/python3 bench/l7.py [--conns N] [--bulk-mib M] [--repeat R]

The script re-executes itself in a network namespace of its own (unshare -n)
with 198.18.0.0/24 on loopback, where one upstream server (python asyncio)
listens on 198.18.0.10:443: it reads a TLS ClientHello, then answers "ok"
and closes (rate), or streams M MiB with sendfile and closes (bulk, when the
SNI is bulk.example.test). The same client program runs three ways:

  direct     in the bench's netns, to 198.18.0.10:443
  sniproxy   in the bench's netns, to sniproxy on 127.0.0.1:8443 (proto tls,
             a table mapping both names to 198.18.0.10:443)
  sniproxy+nat  the same sniproxy, reached the way a cell reaches ours: the
             client connects to 198.18.0.11:443 and an nft nat redirect in
             the bench's netns sends it to 127.0.0.1:8443 (so both proxies
             pay for conntrack and NAT on the client's side)
  cellos     inside a cell (CELLOS_SUBPROCESS_UNSHARE=net, CELLOS_SNI_PROXY=1,
             an egress rule for 198.18.0.10:443 and both names on the
             allowlist), to 198.18.0.10:443, redirected to our proxy

The client times itself (cell start-up is not counted). Rate: N sequential
connections (connect, send the hello, read to EOF, close). Bulk: one
connection reading M MiB into a reused buffer. The three take turns R times;
the median is reported with the spread. Overhead per connection is the
difference to direct. Targets (issue 6): our per-connection overhead no
worse than sniproxy's; bulk at least 90% of direct.
CELLOS_BUILD_DIR picks the build (default: build/).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("CELLOS_BUILD_DIR") or os.path.join(ROOT, "build")
CELLOS = os.path.join(BUILD, "cellos")
PY = "/usr/bin/python3"
SERVER = "198.18.0.10"

SERVER_CODE = r"""
import asyncio, os, sys
path, size = sys.argv[1], int(sys.argv[2])

async def handle(reader, writer):
    data = await reader.read(4096)
    if b"bulk.example.test" in data:
        with open(path, "rb") as f:
            await asyncio.get_running_loop().sendfile(writer.transport, f, 0, size)
    else:
        writer.write(b"ok\n")
    writer.close()

async def main():
    srv = await asyncio.start_server(handle, "198.18.0.10", 443, backlog=1024, reuse_address=True)
    print("ready", flush=True)
    await srv.serve_forever()

asyncio.run(main())
"""

CLIENT_CODE = r"""
import json, resource, socket, sys, time
host, port, mode, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

def hello(sni):
    name = sni.encode()
    ext = b"\x00\x00" + (len(name) + 5).to_bytes(2, "big") + (len(name) + 3).to_bytes(2, "big")
    ext += b"\x00" + len(name).to_bytes(2, "big") + name
    body = b"\x03\x03" + b"\x42" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += len(ext).to_bytes(2, "big") + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs

if mode == "none":
    out = {"seconds": 0, "count": 0}
elif mode == "rate":
    msg = hello("rate.example.test")
    t = time.perf_counter()
    for _ in range(n):
        s = socket.create_connection((host, port))
        s.sendall(msg)
        while s.recv(64):
            pass
        s.close()
    out = {"seconds": time.perf_counter() - t, "count": n}
else:
    s = socket.create_connection((host, port))
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    t = time.perf_counter()
    s.sendall(hello("bulk.example.test"))
    got = 0
    while True:
        k = s.recv_into(view)
        if not k:
            break
        got += k
    out = {"seconds": time.perf_counter() - t, "bytes": got}
ru = resource.getrusage(resource.RUSAGE_SELF)
out["cpu"] = ru.ru_utime + ru.ru_stime
print(json.dumps(out))
"""

SNIPROXY_CONF = """
pidfile {work}/sniproxy.pid
error_log {{
    filename {work}/sniproxy.log
    priority warning
}}
listen 127.0.0.1:8443 {{
    proto tls
    table hosts
}}
table hosts {{
    ^rate\\.example\\.test$ 198.18.0.10:443
    ^bulk\\.example\\.test$ 198.18.0.10:443
}}
"""


REDIRECT = """
table ip bench_l7 {
    chain out {
        type nat hook output priority -100; policy accept;
        ip daddr 198.18.0.11 tcp dport 443 redirect to :8443
    }
}
"""


def reexec_in_own_netns():
    if os.environ.get("CELLOS_L7_BENCH_NETNS") == "1":
        return
    os.environ["CELLOS_L7_BENCH_NETNS"] = "1"
    os.execvp("unshare", ["unshare", "-n", "--", sys.executable] + sys.argv)


def cell_spec(args):
    return {"apiVersion": "cellos.io/v1", "kind": "ExecutionCell",
            "spec": {"id": "bench-l7", "lifetime": {"ttlSeconds": 600},
                     "authority": {"secretRefs": [],
                                   "egressRules": [{"host": SERVER, "port": 443}],
                                   "dnsAuthority": {"hostnameAllowlist": [
                                       "rate.example.test", "bulk.example.test"]}},
                     "run": {"argv": [PY, "-c", CLIENT_CODE] + args, "secretDelivery": "env"}}}


def proc_cpu(pid):
    """utime + stime of a running process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_client(way, mode, n, work, sniproxy_pid):
    """The client's result, with "proxy_cpu": CPU seconds the proxy spent
    (sniproxy: its own; cellos: the supervisor and its helpers, the client's
    own CPU taken out; the cell's fixed cost is taken out by the caller)."""
    if way == "direct":
        argv = [PY, "-c", CLIENT_CODE, SERVER, "443", mode, str(n)]
    elif way == "sniproxy":
        argv = [PY, "-c", CLIENT_CODE, "127.0.0.1", "8443", mode, str(n)]
    elif way == "sniproxy+nat":
        argv = [PY, "-c", CLIENT_CODE, "198.18.0.11", "443", mode, str(n)]
    else:
        path = os.path.join(work, "spec.json")
        with open(path, "w") as f:
            json.dump(cell_spec([SERVER, "443", mode, str(n)]), f)
        argv = [CELLOS, "run", path]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELLOS_")}
    if way == "cellos":
        env.update({"CELLOS_SUBPROCESS_UNSHARE": "net", "CELLOS_SNI_PROXY": "1",
                    "CELL_OS_USE_NOOP_SINK": "1"})
    before = proc_cpu(sniproxy_pid) if way.startswith("sniproxy") else 0.0
    with tempfile.TemporaryFile(mode="w+") as errf:
        p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=errf, text=True)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)     # reaped here, with its CPU (and its children's)
        p.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read()
    if p.returncode != 0:
        raise SystemExit(f"{way} {mode}: exit {p.returncode}: {err[-2000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    if way.startswith("sniproxy"):
        res["proxy_cpu"] = proc_cpu(sniproxy_pid) - before
    elif way == "cellos":
        res["proxy_cpu"] = ru.ru_utime + ru.ru_stime - res["cpu"]
    else:
        res["proxy_cpu"] = 0.0
    return res


def spread(xs):
    return f"{statistics.median(xs):7.0f} ({min(xs):.0f}-{max(xs):.0f})"


def report(args, ways, rate, rate_cpu, bulk, bulk_cpu):
    med = statistics.median
    print(f"bench/l7: {args.conns} sequential connections x {args.repeat}, "
          f"bulk {args.bulk_mib} MiB x {args.repeat}; median (min-max)")
    print(f"{'':12} {'conn/s':>22} {'us/conn':>8} {'+us':>7} {'proxy CPU us/conn':>18}"
          f" {'bulk MB/s':>22} {'/direct':>8} {'proxy CPU s/GB':>15}")
    per = {w: 1e6 / med(rate[w]) for w in ways}
    for w in ways:
        print(f"{w:12} {spread(rate[w]):>22} {per[w]:8.1f} {per[w] - per['direct']:7.1f}"
              f" {med(rate_cpu[w]):18.1f} {spread(bulk[w]):>22}"
              f" {med(bulk[w]) / med(bulk['direct']):8.3f} {med(bulk_cpu[w]):15.3f}")
    for other in ("sniproxy", "sniproxy+nat"):
        print(f"per connection, cellos / {other}: wall overhead "
              f"{(per['cellos'] - per['direct']) / (per[other] - per['direct']):.2f}, proxy CPU "
              f"{med(rate_cpu['cellos']) / med(rate_cpu[other]):.2f} (target <= 1)")
    print(f"bulk cellos / direct: {med(bulk['cellos']) / med(bulk['direct']):.3f} (target >= 0.9);"
          f" cellos / sniproxy: {med(bulk['cellos']) / med(bulk['sniproxy']):.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=500)
    ap.add_argument("--bulk-mib", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    for tool in ("sniproxy", "unshare", "ip", "nft"):
        if not shutil.which(tool):
            raise SystemExit(f"bench/l7: {tool} not found (scripts/setup.sh bench)")
    reexec_in_own_netns()
    subprocess.run("ip link set lo up && ip addr add 198.18.0.1/24 dev lo", shell=True,
                   check=True)
    subprocess.run(["nft", "-f", "-"], input=REDIRECT, text=True, check=True)
    work = tempfile.mkdtemp(prefix="cellos-bench-l7-")
    procs = []
    try:
        size = args.bulk_mib << 20
        blob = os.path.join(work, "blob")
        with open(blob, "wb") as f:
            f.write(os.urandom(1 << 20) * args.bulk_mib)
        server = subprocess.Popen([PY, "-c", SERVER_CODE, blob, str(size)],
                                  stdout=subprocess.PIPE, text=True)
        procs.append(server)
        server.stdout.readline()
        conf = os.path.join(work, "sniproxy.conf")
        with open(conf, "w") as f:
            f.write(SNIPROXY_CONF.format(work=work))
        procs.append(subprocess.Popen(["sniproxy", "-f", "-c", conf]))
        time.sleep(0.5)
        sniproxy = procs[-1].pid
        ways = ["direct", "sniproxy", "sniproxy+nat", "cellos"]
        # The cell's fixed CPU cost (set-up, teardown, a client that does
        # nothing), taken out of every cellos figure.
        base = statistics.median(run_client("cellos", "none", 0, work, sniproxy)["proxy_cpu"]
                                 for _ in range(3))
        rate = {w: [] for w in ways}
        rate_cpu = {w: [] for w in ways}
        bulk = {w: [] for w in ways}
        bulk_cpu = {w: [] for w in ways}
        for _ in range(args.repeat):
            for w in ways:
                fixed = base if w == "cellos" else 0.0
                res = run_client(w, "rate", args.conns, work, sniproxy)
                rate[w].append(res["count"] / res["seconds"])
                rate_cpu[w].append((res["proxy_cpu"] - fixed) / res["count"] * 1e6)
                res = run_client(w, "bulk", 0, work, sniproxy)
                if res["bytes"] != size:
                    raise SystemExit(f"{w}: bulk got {res['bytes']} of {size} bytes")
                bulk[w].append(res["bytes"] / res["seconds"] / 1e6)
                bulk_cpu[w].append((res["proxy_cpu"] - fixed) / (res["bytes"] / 1e9))
        report(args, ways, rate, rate_cpu, bulk, bulk_cpu)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
