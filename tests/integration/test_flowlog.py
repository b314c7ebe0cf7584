#!/usr/bin/env python3
"""Issue 4 (realtime flow events): with CELLOS_PER_FLOW_REALTIME=1 a cell with
its own netns logs its firewall verdicts to NFLOG and the supervisor emits one
network_flow_decision (source "nflog") per flow as it happens: the right
5-tuple and rule for accepts and rejects, one event for a thousand retries of
one denied connect, and counters alongside when both are asked for."""
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import check_cloudevent, main, run_cell, spec  # noqa: E402

PY = "/usr/bin/python3"
FLOW = "observability.v1.network_flow_decision"
ENV = {"CELLOS_SUBPROCESS_UNSHARE": "net", "CELLOS_PER_FLOW_REALTIME": "1"}

# Inside the cell: listeners on 127.0.0.2 (allowed by egressRules), then an
# allowed TCP connect, an allowed UDP datagram, a denied TCP connect and
# `retries` denied connects to one more ip:port. Prints what it did as JSON
# (with the source address and port each flow used), then sleeps, so that
# events "as it happens" are visibly earlier than the end of the run.
WORKLOAD = r"""
import json, socket, sys, time
retries = int(sys.argv[1])
out = {}
lt = socket.socket(); lt.bind(("127.0.0.2", 18201)); lt.listen(4)
lu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); lu.bind(("127.0.0.2", 18202))

def tcp(name, addr, port):
    c = socket.socket(); c.settimeout(5)
    try:
        c.connect((addr, port)); res = "ok"
    except OSError as e:
        res = e.errno
    out[name] = {"result": res, "src": c.getsockname()}
    c.close()

tcp("tcp_ok", "127.0.0.2", 18201)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect(("127.0.0.2", 18202)); u.send(b"x")
out["udp_ok"] = {"result": lu.recv(16).decode(), "src": u.getsockname()}
tcp("tcp_denied", "127.0.0.2", 18203)
refused = 0
for i in range(retries):
    c = socket.socket()
    try:
        c.connect(("127.0.0.3", 18204))
    except ConnectionRefusedError:
        refused += 1
    c.close()
out["retries_refused"] = refused
out["done_at"] = time.time()
print(json.dumps(out), flush=True)
time.sleep(0.6)
"""

RULES = [{"host": "127.0.0.2", "port": 18201, "protocol": "tcp"},
         {"host": "127.0.0.2", "port": 18202, "protocol": "udp"}]


def run(retries=0, env=None):
    doc = spec(cell_id="flowlog-cell", argv=[PY, "-c", WORKLOAD, str(retries)],
               authority={"secretRefs": [], "egressRules": RULES})
    cell = run_cell(doc, env=dict(ENV, **(env or {})))
    assert cell.rc == 0, (cell.stdout, cell.stderr)
    return cell, json.loads(cell.stdout)


def nflog_events(cell):
    return [e for e in cell.of(FLOW) if e["data"]["source"] == "nflog"]


def flows_to(cell, addr, port):
    return [e["data"] for e in nflog_events(cell)
            if e["data"]["dstAddr"] == addr and e["data"]["dstPort"] == port]


def summary(cell):
    enf = cell.of("observability.v1.network_enforcement")
    assert len(enf) == 1, cell.types()
    return enf[0]["data"]["flowLog"]


def epoch(ev):
    return datetime.datetime.strptime(ev["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def check_flow(d, proto, src, dst, dport, verdict, rule):
    assert d["source"] == "nflog" and d["protocol"] == proto, d
    assert d["verdict"] == verdict and d["rule"] == rule, d
    assert [d["srcAddr"], d["srcPort"]] == src, (d, src)
    assert d["dstAddr"] == dst and d["dstPort"] == dport, d
    assert d["packets"] == 1 and d["bytes"] >= 28, d


def test_one_event_per_flow_with_its_five_tuple():
    cell, did = run()
    assert did["tcp_ok"]["result"] == "ok" and did["udp_ok"]["result"] == "x", did
    assert did["tcp_denied"]["result"] == 111, did           # ECONNREFUSED, at once
    tcp_ok = flows_to(cell, "127.0.0.2", 18201)
    udp_ok = flows_to(cell, "127.0.0.2", 18202)
    denied = flows_to(cell, "127.0.0.2", 18203)
    assert len(tcp_ok) == 1 and len(udp_ok) == 1 and len(denied) == 1, nflog_events(cell)
    check_flow(tcp_ok[0], "tcp", did["tcp_ok"]["src"], "127.0.0.2", 18201, "accept",
               "egress[0] 127.0.0.2:18201/tcp")
    check_flow(udp_ok[0], "udp", did["udp_ok"]["src"], "127.0.0.2", 18202, "accept",
               "egress[1] 127.0.0.2:18202/udp")
    check_flow(denied[0], "tcp", did["tcp_denied"]["src"], "127.0.0.2", 18203, "reject",
               "reject tcp")
    assert len(nflog_events(cell)) == 3, [e["data"] for e in nflog_events(cell)]
    for e in nflog_events(cell):
        check_cloudevent(e, "flowlog-cell")
        # As it happens: before the workload's last 0.6 s, not at teardown.
        assert epoch(e) < did["done_at"] + 0.3, (e["time"], did["done_at"])
    s = summary(cell)
    assert s["group"] == 7 and s["flows"] == 3 and s["unreported"] == 0, s
    assert s["malformed"] == 0 and s["lost"] == 0 and s["capacity"] == 4096, s
    types = cell.types()
    assert types.index(FLOW) < types.index("command.v1.completed"), types
    assert types[-1] == "lifecycle.v1.destroyed", types


def test_a_thousand_denied_connects_are_one_event():
    cell, did = run(retries=1000)
    assert did["retries_refused"] == 1000, did
    retried = flows_to(cell, "127.0.0.3", 18204)
    assert len(retried) == 1, retried
    assert retried[0]["verdict"] == "reject" and retried[0]["rule"] == "reject tcp", retried
    s = summary(cell)
    assert s["flows"] == 4 and len(nflog_events(cell)) == 4, s
    # Every retry is either counted as a duplicate or, should the kernel
    # have overrun our socket, in `lost` (never a second event).
    assert s["duplicates"] >= 999 or s["lost"] > 0, s
    assert s["malformed"] == 0, s


def test_counters_and_realtime_together():
    cell, did = run(env={"CELLOS_PER_FLOW_ENFORCEMENT_EVENTS": "1"})
    flows = [e["data"] for e in cell.of(FLOW)]
    counters = {d["rule"]: d for d in flows if d["source"] == "counters"}
    assert len([d for d in flows if d["source"] == "nflog"]) == 3, flows
    assert counters["reject tcp"]["packets"] >= 1, counters
    assert counters["egress[0] 127.0.0.2:18201/tcp"]["packets"] >= 1, counters
    for d in counters.values():
        assert "srcAddr" not in d and d["verdict"] in ("accept", "drop", "reject", "redirect"), d
    assert summary(cell)["flows"] == 3


DNS_WORKLOAD = r"""
import socket, struct
q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
for label in "evil.example.com".split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack(">HH", 1, 1)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(5)
c.sendto(q, ("127.0.0.1", 53))
print(c.recv(512)[3] & 0xF, c.getsockname()[1])
"""


def test_with_the_dns_proxy():
    """Both openers in the netprep helper: the proxy's sockets and ours."""
    doc = spec(cell_id="flowlog-dns", argv=[PY, "-c", DNS_WORKLOAD], authority={
        "secretRefs": [],
        "dnsAuthority": {"hostnameAllowlist": ["api.example.com"],
                         "blockDirectWorkloadDns": True,
                         "resolvers": [{"resolverId": "r", "endpoint": "127.0.0.1:53053",
                                        "protocol": "do53-udp"}]}})
    cell = run_cell(doc, env=dict(ENV, CELLOS_DNS_PROXY="1"))
    assert cell.rc == 0, (cell.stdout, cell.stderr)
    rcode, sport = cell.stdout.split()
    assert rcode == "5", cell.stdout                       # REFUSED by the proxy
    flows = flows_to(cell, "127.0.0.1", 53)
    assert len(flows) == 1, [e["data"] for e in nflog_events(cell)]
    check_flow(flows[0], "udp", ["127.0.0.1", int(sport)], "127.0.0.1", 53, "accept",
               flows[0]["rule"])
    assert flows[0]["rule"].startswith("dns-proxy["), flows[0]
    enf = cell.of("observability.v1.network_enforcement")[0]["data"]
    assert enf["dnsProxy"] is True and enf["flowLog"]["flows"] == 1, enf


def test_off_without_the_variable_or_a_netns():
    cell, _ = run(env={"CELLOS_PER_FLOW_REALTIME": ""})
    assert not nflog_events(cell), cell.types()
    assert "flowLog" not in cell.of("observability.v1.network_enforcement")[0]["data"]
    doc = spec(cell_id="flowlog-nonet", argv=[PY, "-c", "print('hi')"])
    cell = run_cell(doc, env={"CELLOS_PER_FLOW_REALTIME": "1"})
    assert cell.rc == 0 and not cell.of(FLOW), cell.types()


if __name__ == "__main__":
    main(globals())
