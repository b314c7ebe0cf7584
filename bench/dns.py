#!/usr/bin/env python3
"""bench/dns: dnsperf through the cell's DNS proxy and through dnsmasq, side by
side in one run, rows interleaved; prints qps, latency percentiles and the
ratios the issues ask for (ours / dnsmasq >= 1.0x, ours / dnsmasq
--log-queries >= 2x, ours signed / ours unsigned >= 0.8x).

  /usr/bin/python3 bench/dns.py [--cellos PATH] [--seconds 10] [--repeat 3]

(needs root, dnsperf, dnsmasq and unbound: `scripts/setup.sh bench`). On a
shared machine, `nice -n -10` in front helps every row alike.

Rows (every one asks the same upstream, an unbound on 127.0.0.1 in the
host's netns answering every *.bench.example name from memory):
  upstream direct     dnsperf -> unbound: what the upstream alone can do
  cellos proxy        `cellos run` of a cell (own netns, nft table, DNS proxy
                      with allowlist *.bench.example) whose workload is
                      dnsperf asking 127.0.0.1:53 in the cell; one dns_query
                      event per query to a JSONL file
  cellos proxy signed the same with CELLOS_EVENT_SIGNING=ed25519
  cellos proxy no sink the same without CELLOS_JSONL_SINK_PATH (events built,
                      written nowhere): what the events cost, for diagnosis
  dnsmasq             dnsmasq --cache-size=0 --dns-forward-max=1024 (the
                      proxy's in-flight limit) on 127.0.0.1 in the host netns
                      forwarding to the upstream; dnsperf in the host netns
  dnsmasq log-queries the same with --log-queries --log-facility=FILE

Two phases per round: "max" (no -Q: as fast as the server answers, -q
outstanding queries) and "fixed" (-Q the same rate for every row, to compare
latency when nobody is saturated). Latencies come from dnsperf -v (one line
per answer); CPU seconds of the server and of the upstream come from
/proc/<pid>/stat, so the table shows whether the upstream was the limit.
The server under test (supervisor or dnsmasq) runs on CPU 1, dnsperf and the
upstream on CPU 0, unless --no-pin.
"""
import argparse
import base64
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CELLOS = os.environ.get("CELLOS_BIN") or os.path.join(ROOT, "build", "cellos")
ZONE = "bench.example"
TICK = os.sysconf("SC_CLK_TCK")

UNBOUND_CONF = """server:
  interface: 127.0.0.1
  port: {port}
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "{work}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  local-zone: "{zone}." redirect
  local-data: "{zone}. 60 IN A 10.9.8.7"
remote-control:
  control-enable: no
"""


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    """utime + stime of one process (its own threads, not its children)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
        return None


def wait_udp(port, timeout=5.0):
    """Until something answers a DNS query on 127.0.0.1:port."""
    q = bytes.fromhex("abcd01000001000000000000") + b"\x01a\x05bench\x07example\x00\x00\x01\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                s.sendto(q, ("127.0.0.1", port))
                s.recv(512)
                return
            except OSError:
                time.sleep(0.1)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port}")


def pinned(cpu, argv):
    """argv run on one CPU (taskset), or as it is when cpu is None."""
    return argv if cpu is None else [shutil.which("taskset"), "-c", str(cpu)] + argv


class Daemon:
    """A server started for the whole run; ready once it answers."""

    def __init__(self, argv, port):
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = port

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def parse_dnsperf(text):
    """qps, sent, completed, lost and sorted latencies (s) from dnsperf -v."""
    def stat(name):
        m = re.search(rf"{name}:\s+([\d.]+)", text)
        return float(m.group(1)) if m else 0.0
    lat = []
    for line in text.splitlines():  # "> NOERROR h1.bench.example A 0.000123"
        if line.startswith("> "):
            try:
                lat.append(float(line.rsplit(None, 1)[1]))
            except ValueError:  # a timeout line carries no latency
                pass
    lat.sort()
    return {"qps": stat("Queries per second"), "sent": int(stat("Queries sent")),
            "completed": int(stat("Queries completed")), "lost": int(stat("Queries lost")),
            "lat": lat}


def pct(lat, p):
    return lat[min(len(lat) - 1, int(len(lat) * p / 100))] * 1000 if lat else float("nan")


class Bench:
    def __init__(self, args, work):
        self.args, self.work = args, work
        # The server under test gets CPU 1 to itself; dnsperf and the
        # upstream share CPU 0 (the upstream direct row shows that CPU 0 can
        # carry more than any server row asks of it).
        self.server_cpu, self.client_cpu = (None, None) if args.no_pin else (1, 0)
        self.qfile = os.path.join(work, "queries.txt")
        with open(self.qfile, "w") as f:
            for i in range(args.names):
                f.write(f"h{i}.{ZONE} A\n")
        self.upstream_port = free_port()
        conf = os.path.join(work, "unbound.conf")
        with open(conf, "w") as f:
            f.write(UNBOUND_CONF.format(port=self.upstream_port, work=work, zone=ZONE))
        self.conf = conf
        self.dnsmasq_logfile = os.path.join(work, "dnsmasq-queries.log")
        self.seed = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        self.daemons = []

    def start(self):
        self.upstream = self.start_daemon(
            pinned(self.client_cpu, ["unbound", "-d", "-c", self.conf]), self.upstream_port)
        self.dnsmasq = self.start_dnsmasq(False)
        self.dnsmasq_log = self.start_dnsmasq(True)

    def start_daemon(self, argv, port):
        d = Daemon(argv, port)
        self.daemons.append(d)  # before the wait: stopped even if it never answers
        wait_udp(port)
        return d

    def start_dnsmasq(self, log_queries):
        port = free_port()
        argv = ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--no-poll", "--bind-interfaces", "--listen-address=127.0.0.1",
                "--except-interface=none", f"--port={port}", "--cache-size=0",
                f"--server=127.0.0.1#{self.upstream.port}", "--pid-file=", "--user=root",
                "--dns-forward-max=1024"]
        if log_queries:
            argv += ["--log-queries", f"--log-facility={self.dnsmasq_logfile}"]
        return self.start_daemon(pinned(self.server_cpu, argv), port)

    def dnsperf_argv(self, port, rate):
        a = self.args
        argv = [shutil.which("dnsperf"), "-s", "127.0.0.1", "-p", str(port), "-d", self.qfile,
                "-l", str(a.seconds), "-c", str(a.clients), "-q", str(a.outstanding), "-v"]
        return pinned(self.client_cpu, argv + (["-Q", str(rate)] if rate else []))

    def run_host(self, daemon, rate):
        """dnsperf in the host netns against a daemon already listening."""
        up0, srv0 = cpu_seconds(self.upstream.proc.pid), cpu_seconds(daemon.proc.pid)
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run(self.dnsperf_argv(daemon.port, rate), capture_output=True, text=True)
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = parse_dnsperf(p.stdout)
        r["up_cpu"] = cpu_seconds(self.upstream.proc.pid) - up0
        r["srv_cpu"] = cpu_seconds(daemon.proc.pid) - srv0
        r["client_cpu"] = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
        return r

    def cell_spec(self, rate):
        return {"apiVersion": "cellos.io/v1", "kind": "ExecutionCell", "spec": {
            "id": "bench-dns", "lifetime": {"ttlSeconds": self.args.seconds + 60},
            "authority": {"secretRefs": [], "dnsAuthority": {
                "hostnameAllowlist": [f"*.{ZONE}"], "blockDirectWorkloadDns": True,
                "resolvers": [{"resolverId": "bench-upstream", "protocol": "do53-udp",
                               "endpoint": f"127.0.0.1:{self.upstream.port}"}]}},
            "run": {"secretDelivery": "env", "argv": self.dnsperf_argv(53, rate)}}}

    def run_cell(self, rate, signed, sink=True):
        spec_path = os.path.join(self.work, "cell.json")
        events = os.path.join(self.work, "events.jsonl")
        with open(spec_path, "w") as f:
            json.dump(self.cell_spec(rate), f)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELLOS_", "CELL_OS_"))}
        env.update({"CELLOS_SUBPROCESS_UNSHARE": "net", "CELLOS_DNS_PROXY": "1"})
        if sink:
            env["CELLOS_JSONL_SINK_PATH"] = events
        if signed:
            env.update({"CELLOS_EVENT_SIGNING": "ed25519", "CELLOS_EVENT_SIGNING_KID": "bench",
                        "CELLOS_EVENT_SIGNING_KEY_BASE64": self.seed})
        up0 = cpu_seconds(self.upstream.proc.pid)
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = open(os.path.join(self.work, "cell.out"), "w+")
        p = subprocess.Popen(pinned(self.server_cpu, [self.args.cellos, "run", spec_path]),
                             env=env, stdout=out, stderr=subprocess.PIPE, text=True)
        srv = 0.0
        while p.poll() is None:  # the supervisor's own CPU, read while it lives
            srv = cpu_seconds(p.pid) or srv
            time.sleep(0.05)
        stderr = p.stderr.read()
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        up1 = cpu_seconds(self.upstream.proc.pid)
        out.seek(0)
        r = parse_dnsperf(out.read())
        out.close()
        if p.returncode != 0 or not r["qps"]:
            raise RuntimeError(f"cellos run failed ({p.returncode}): {stderr[-2000:]}")
        if sink:
            r["events"] = count_dns_events(events)
            os.unlink(events)
        r["up_cpu"] = up1 - up0
        r["srv_cpu"] = srv
        r["client_cpu"] = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime) - srv
        return r

    def rows(self):
        return [("upstream direct", lambda rate: self.run_host(self.upstream, rate)),
                ("cellos proxy", lambda rate: self.run_cell(rate, False)),
                ("cellos proxy signed", lambda rate: self.run_cell(rate, True)),
                ("cellos proxy no sink", lambda rate: self.run_cell(rate, False, sink=False)),
                ("dnsmasq", lambda rate: self.run_host(self.dnsmasq, rate)),
                ("dnsmasq log-queries", lambda rate: self.run_host(self.dnsmasq_log, rate))]

    def stop(self):
        for d in self.daemons:
            d.stop()


def count_dns_events(path):
    """dns_query events in the JSONL (inside the envelope when signed)."""
    n = 0
    with open(path) as f:
        for line in f:
            if '.dns_query"' in line:
                n += 1
    return n


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def cpu_per_query_us(r):
    return r["srv_cpu"] / max(1, r["completed"]) * 1e6


def report(phase, results, names, seconds):
    print(f"\n== phase {phase} ==")
    print(f"{'row':20s} {'qps':>7s} {'(min..max)':>15s} {'p50 ms':>7s} {'p99 ms':>7s} {'lost':>5s} "
          f"{'srv cpu':>7s} {'us/q':>5s} {'up cpu':>6s} {'dnsperf':>7s} {'events/q':>8s}")
    for name in names:
        rs = results[name]
        lat = sorted(x for r in rs for x in r["lat"])
        qps = [r["qps"] for r in rs]
        ev = ""
        if all("events" in r for r in rs):
            ev = f"{sum(r['events'] for r in rs) / max(1, sum(r['sent'] for r in rs)):.3f}"
        print(f"{name:20s} {max(qps):7.0f} {min(qps):7.0f}..{max(qps):<7.0f} {pct(lat, 50):7.3f} "
              f"{pct(lat, 99):7.3f} {sum(r['lost'] for r in rs):5d} "
              f"{median([r['srv_cpu'] for r in rs]) / seconds * 100:6.0f}% "
              f"{median([cpu_per_query_us(r) for r in rs]):5.1f} "
              f"{median([r['up_cpu'] for r in rs]) / seconds * 100:5.0f}% "
              f"{median([r['client_cpu'] for r in rs]) / seconds * 100:6.0f}% {ev:>8s}")


def ratios(results):
    """Three views of each ratio: best qps of each row (the verdict), the
    median of the per-round ratios (rows of one round ran back to back), and
    server CPU per query (what each would do with a whole core: the view
    least moved by other load on the machine)."""
    pairs = [("cellos / dnsmasq", "cellos proxy", "dnsmasq", 1.0),
             ("cellos / dnsmasq log-queries", "cellos proxy", "dnsmasq log-queries", 2.0),
             ("cellos signed / cellos", "cellos proxy signed", "cellos proxy", 0.8)]
    print(f"  {'ratio':30s} {'best qps':>8s} {'per round (median; all)':>30s} "
          f"{'cpu/query':>9s}  target")
    for text, a, b, target in pairs:
        ra, rb = results[a], results[b]
        best = max(r["qps"] for r in ra) / max(r["qps"] for r in rb)
        rounds = [x["qps"] / y["qps"] for x, y in zip(ra, rb)]
        cpu = median([cpu_per_query_us(r) for r in rb]) / median([cpu_per_query_us(r) for r in ra])
        verdict = "met" if best >= target else "NOT met"
        each = " ".join(f"{x:.2f}" for x in rounds)
        print(f"  {text:30s} {best:7.2f}x {median(rounds):6.2f}x ({each:>20s}) {cpu:8.2f}x  "
              f">= {target}x: {verdict}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cellos", default=DEFAULT_CELLOS,
                    help="the cellos binary (default: $CELLOS_BIN or build/cellos)")
    ap.add_argument("--seconds", type=int, default=10, help="dnsperf -l per measurement")
    ap.add_argument("--repeat", type=int, default=3, help="rounds, rows interleaved")
    ap.add_argument("--clients", type=int, default=4, help="dnsperf -c")
    ap.add_argument("--outstanding", type=int, default=100, help="dnsperf -q")
    ap.add_argument("--no-pin", action="store_true",
                    help="let the scheduler place everything (default: server on CPU 1, "
                         "dnsperf and upstream on CPU 0)")
    ap.add_argument("--fixed-qps", type=int, default=5000,
                    help="dnsperf -Q of the fixed-rate phase (0: skip it)")
    ap.add_argument("--names", type=int, default=20000, help="distinct names in the query file")
    ap.add_argument("--rows", default="", help="comma list of row names to run (default all)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/dns: needs root (network namespaces, nftables)")
    work = tempfile.mkdtemp(prefix="bench-dns-")
    bench = None
    try:
        bench = Bench(args, work)
        bench.start()
        rows = [r for r in bench.rows() if not args.rows or r[0] in args.rows.split(",")]
        phases = [("max", 0)] + ([("fixed", args.fixed_qps)] if args.fixed_qps else [])
        results = {p: {name: [] for name, _ in rows} for p, _ in phases}
        loads = [loadavg()]
        for _ in range(args.repeat):
            for phase, rate in phases:
                for name, run in rows:
                    results[phase][name].append(run(rate))
            loads.append(loadavg())
        print(f"dnsperf -l {args.seconds} -c {args.clients} -q {args.outstanding}, "
              f"{args.names} names, {args.repeat} interleaved rounds (qps: best, latency: "
              f"all rounds pooled, CPU: median); load average per round {' '.join(loads)}; "
              f"cellos {args.cellos}")
        for phase, rate in phases:
            report(f"{phase}" + (f" (-Q {rate})" if rate else " (no -Q)"),
                   results[phase], [n for n, _ in rows], args.seconds)
            if phase == "max" and not args.rows:
                ratios(results[phase])
        if not args.rows:
            size = os.path.getsize(bench.dnsmasq_logfile)
            print(f"dnsmasq query log: {size / 1e6:.1f} MB")
    finally:
        if bench:
            bench.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
