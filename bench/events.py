#!/usr/bin/env python3
"""bench/events: signed vs unsigned event throughput through the real event
bus, to a JSONL file and to NATS JetStream (a nats-server started here on a
loopback port), in one run; prints events/s and the ratio to unsigned.

  /usr/bin/python3 bench/events.py [--events N] [--repeat R] [--sinks jsonl,nats]

Each configuration runs R times, the three signing modes taking turns so
that they share the machine's ups and downs; the table gives the best run,
the median and the spread (min-max). Every signed JSONL output is then
checked with `cellos verify --keys` (a complete, valid chain of N events).
CELLOS_BUILD_DIR picks the build (default: build/).
"""
import argparse
import base64
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("CELLOS_BUILD_DIR") or os.path.join(ROOT, "build")
TOOL = os.path.join(BUILD, "bench", "event_throughput")
CELLOS = os.path.join(BUILD, "cellos")
ALGS = ("off", "ed25519", "hmac")
# The tool's fixed key: bytes 0..31 (the Ed25519 seed, or the HMAC secret).
BENCH_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")


def run_once(sink, n, alg):
    out = subprocess.run([TOOL, sink, str(n), alg], capture_output=True, text=True, check=True)
    rate = float(re.search(r"per_second=(\d+)", out.stdout).group(1))
    pub = re.search(r"pubkey=(\S+)", out.stdout)
    return rate, pub.group(1) if pub else None


def verify(path, alg, pubkey, work):
    entry = pubkey if alg == "ed25519" else {"alg": "hmac-sha256", "key": BENCH_KEY}
    keys = os.path.join(work, "keys.json")
    with open(keys, "w") as f:
        json.dump({"bench": entry}, f)
    p = subprocess.run([CELLOS, "verify", "--keys", keys, path], capture_output=True, text=True)
    return p.returncode == 0, (p.stdout + p.stderr).strip().splitlines()[-1:]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def measure(name, sink, n, repeat, work):
    rates = {alg: [] for alg in ALGS}
    checked = {}
    path = f"{work}/events.jsonl"
    for _ in range(repeat):
        for alg in ALGS:
            rate, pub = run_once(sink, n, alg)
            rates[alg].append(rate)
            if name == "jsonl":
                if alg != "off" and alg not in checked:
                    checked[alg] = verify(path, alg, pub, work)
                os.unlink(path)
    return rates, checked


def report(name, rates):
    base_best, base_median = max(rates["off"]), statistics.median(rates["off"])
    for alg in ALGS:
        r = rates[alg]
        best, median = max(r), statistics.median(r)
        print(f"{name:6s} {alg:8s} {best:10.0f} {median:10.0f} {min(r):8.0f}-{max(r):<8.0f}"
              f" {best / base_best:8.2f}x {median / base_median:10.2f}x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sinks", default="jsonl,nats")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-events-")
    port = free_port()
    server = None
    try:
        sinks = []
        if "jsonl" in args.sinks:
            sinks.append(("jsonl", f"jsonl:{work}/events.jsonl", args.events))
        if "nats" in args.sinks:
            server = subprocess.Popen(["nats-server", "-js", "-a", "127.0.0.1", "-p", str(port),
                                       "-sd", os.path.join(work, "js")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            sinks.append(("nats", f"nats:nats://127.0.0.1:{port}", max(args.events // 10, 1000)))
        print(f"events/s over {args.repeat} runs of each; ratios to unsigned")
        print(f"{'sink':6s} {'signing':8s} {'best':>10s} {'median':>10s} {'min-max':>17s}"
              f" {'best/off':>9s} {'median/off':>11s}")
        failed = False
        for name, sink, n in sinks:
            rates, checked = measure(name, sink, n, args.repeat, work)
            report(name, rates)
            for alg, (good, last) in checked.items():
                print(f"  {name} {alg}: cellos verify --keys: {'ok' if good else 'FAILED'} {last}")
                failed = failed or not good
        return 1 if failed else 0
    finally:
        if server:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
