#!/usr/bin/env python3
"""Issue 4 (nftables part): a cell with its own netns gets its egress
firewall before the workload runs: allowed connects work, anything else fails
at once; the network_enforcement event and per-rule counters are emitted;
nothing is left in the host's ruleset."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import main, run_cell, spec  # noqa: E402

PY = "/usr/bin/python3"
PROBE = r"""
import socket, time, sys
ports = [int(p) for p in sys.argv[1:]]
listeners = []
for p in ports:
    s = socket.socket(); s.bind(("127.0.0.1", p)); s.listen(); listeners.append(s)
for p in ports:
    c = socket.socket(); c.settimeout(5); t = time.monotonic()
    try:
        c.connect(("127.0.0.1", p)); print(p, "ok", 0)
    except OSError as e:
        print(p, "fail", round(time.monotonic() - t, 3))
"""


def host_tables():
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def connects(cell):
    return {int(l.split()[0]): (l.split()[1], float(l.split()[2])) for l in cell.stdout.splitlines()}


def net_doc(rules, ports):
    return spec(argv=[PY, "-c", PROBE] + [str(p) for p in ports],
                authority={"secretRefs": [], "egressRules": rules})


def test_allowed_connect_works_and_others_fail_at_once():
    before = host_tables()
    cell = run_cell(net_doc([{"host": "127.0.0.1", "port": 18081, "protocol": "tcp"}],
                            [18081, 18083]), env={"CELLOS_SUBPROCESS_UNSHARE": "net"})
    assert cell.rc == 0, cell.stderr
    got = connects(cell)
    assert got[18081][0] == "ok", got
    assert got[18083][0] == "fail" and got[18083][1] < 0.1, got
    enf = cell.of("observability.v1.network_enforcement")
    assert len(enf) == 1, cell.types()
    d = enf[0]["data"]
    assert d["nftEnforcementApplied"] is True and d["table"] == "inet cellos_t_run"
    assert d["egressRulesCount"] == 1 and d["dnsProxy"] is False and d["sniProxy"] is False
    # A summary: emitted at teardown, so it can carry the run's DNS counts.
    assert cell.types().index("observability.v1.network_enforcement") < \
        cell.types().index("lifecycle.v1.destroyed")
    assert host_tables() == before, "a table appeared in the host's netns"


def test_hostname_rules_are_resolved_at_setup():
    cell = run_cell(net_doc([{"host": "localhost", "port": 18084}], [18084, 18085]),
                    env={"CELLOS_SUBPROCESS_UNSHARE": "net"})
    got = connects(cell)
    assert got[18084][0] == "ok" and got[18085][0] == "fail", got


def test_per_flow_counters_after_the_run():
    cell = run_cell(net_doc([{"host": "127.0.0.1", "port": 18086}], [18086, 18087]),
                    env={"CELLOS_SUBPROCESS_UNSHARE": "net",
                         "CELLOS_PER_FLOW_ENFORCEMENT_EVENTS": "1"})
    flows = {e["data"]["rule"]: e["data"] for e in cell.of("observability.v1.network_flow_decision")}
    assert flows, cell.types()
    allowed = [d for r, d in flows.items() if "127.0.0.1:18086/tcp" in r]
    assert allowed and allowed[0]["verdict"] == "accept" and allowed[0]["packets"] >= 1, flows
    assert flows["reject tcp"]["verdict"] == "reject" and flows["reject tcp"]["packets"] >= 1
    for d in flows.values():
        assert d["source"] == "counters" and isinstance(d["bytes"], int)
    assert cell.types()[-1] == "lifecycle.v1.destroyed"


E2E_WORKLOAD = r"""
import socket, struct, threading

def query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)

stub = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
stub.bind(("127.0.0.1", 53054))

def serve():
    while True:
        data, peer = stub.recvfrom(512)
        qend = 12
        while data[qend]:
            qend += data[qend] + 1
        qend += 5
        answer = data[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + data[12:qend]
        answer += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([93, 184, 216, 34])
        stub.sendto(answer, peer)

threading.Thread(target=serve, daemon=True).start()
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(5)
for i, name in enumerate(["api.example.com", "evil.example.com"]):
    c.sendto(query(name, 100 + i), ("127.0.0.1", 53053))
    reply = c.recv(512)
    rcode = reply[3] & 0xF
    ancount = struct.unpack(">H", reply[6:8])[0]
    addr = ".".join(str(b) for b in reply[-4:]) if ancount else "-"
    print(name, rcode, ancount, addr)
"""


def test_cellos_end_to_end_dns_scenario():
    doc = spec(cell_id="e2e-cell", argv=[PY, "-c", E2E_WORKLOAD], authority={
        "secretRefs": [],
        "egressRules": [{"host": "127.0.0.1", "port": 53053, "protocol": "udp"},
                        {"host": "127.0.0.1", "port": 53054, "protocol": "udp"}],
        "dnsAuthority": {
            "hostnameAllowlist": ["api.example.com"],
            "blockDirectWorkloadDns": True,
            "resolvers": [{"resolverId": "resolver-test-001", "endpoint": "127.0.0.1:53053",
                           "protocol": "do53-udp"}]}})
    cell = run_cell(doc, env={"CELLOS_SUBPROCESS_UNSHARE": "net", "CELLOS_DNS_PROXY": "1",
                              "CELLOS_DNS_PROXY_UPSTREAM_OVERRIDE": "127.0.0.1:53054"})
    assert cell.rc == 0, (cell.stdout, cell.stderr)
    lines = dict((l.split()[0], l.split()[1:]) for l in cell.stdout.splitlines())
    assert lines["api.example.com"] == ["0", "1", "93.184.216.34"], lines
    assert lines["evil.example.com"][0] == "5", lines
    queries = [e["data"] for e in cell.of("observability.v1.dns_query")]
    assert len(queries) == 2, queries
    allow, deny = queries
    assert allow["queryName"] == "api.example.com" and allow["decision"] == "allow"
    assert allow["reasonCode"] == "allowed_by_allowlist" and allow["responseRcode"] == 0
    assert deny["queryName"] == "evil.example.com" and deny["decision"] == "deny"
    assert deny["reasonCode"] == "denied_not_in_allowlist" and deny["responseRcode"] == 5
    for q in queries:
        assert q["upstreamResolverId"] == "resolver-test-001" and q["queryType"] == "A"
        assert q["transport"] == "udp"
    enf = cell.of("observability.v1.network_enforcement")[0]["data"]
    assert enf["dnsProxy"] is True and enf["dnsQueries"]["allowed"] == 1
    assert enf["dnsQueries"]["denied"] == 1


class UpstreamStub:
    """A DNS server in the supervisor's netns answering every A query with
    one address, on a loopback port of its own."""

    def __init__(self, answer=(10, 1, 2, 3), silent=False, truncate=False):
        import socket
        import threading
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.answer = bytes(answer)
        self.silent = silent
        self.truncate = truncate
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        import struct
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            qend = 12
            while data[qend]:
                qend += data[qend] + 1
            name = []
            i = 12
            while data[i]:
                name.append(data[i + 1:i + 1 + data[i]].decode())
                i += data[i] + 1
            self.seen.append(".".join(name))
            if self.silent:
                continue
            qtype = struct.unpack(">H", data[qend + 1:qend + 3])[0]
            qend += 5
            if qtype == 1:
                ans = data[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + data[12:qend]
                ans += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + self.answer
            else:
                ans = data[:2] + struct.pack(">HHHHH", 0x8180, 1, 0, 0, 0) + data[12:qend]
            if self.truncate:
                ans = ans[:2] + bytes([ans[2] | 0x02]) + ans[3:]
            self.sock.sendto(ans, peer)

    def close(self):
        self.sock.close()


def test_getaddrinfo_through_resolv_conf_and_the_proxy():
    stub = UpstreamStub()
    try:
        workload = ("import socket\nfor n in ('api.example.com', 'x.cdn.example.com', 'evil.example.com'):\n"
                    "    try:\n        print(n, socket.getaddrinfo(n, 443, socket.AF_INET)[0][4][0])\n"
                    "    except socket.gaierror as e:\n        print(n, 'error')\n")
        doc = spec(argv=[PY, "-c", workload], authority={
            "secretRefs": [],
            "dnsAuthority": {"hostnameAllowlist": ["api.example.com", "*.cdn.example.com"],
                             "blockDirectWorkloadDns": True,
                             "resolvers": [{"resolverId": "stub", "protocol": "do53-udp",
                                            "endpoint": f"127.0.0.1:{stub.port}"}]}})
        cell = run_cell(doc, env={"CELLOS_SUBPROCESS_UNSHARE": "net,mnt", "CELLOS_DNS_PROXY": "1"})
        assert cell.rc == 0, cell.stderr
        got = dict(l.split() for l in cell.stdout.splitlines())
        assert got == {"api.example.com": "10.1.2.3", "x.cdn.example.com": "10.1.2.3",
                       "evil.example.com": "error"}, got
        assert "evil.example.com" not in stub.seen, stub.seen
        reasons = {(e["data"]["queryName"], e["data"]["reasonCode"])
                   for e in cell.of("observability.v1.dns_query")}
        assert ("evil.example.com", "denied_not_in_allowlist") in reasons, reasons
        assert ("api.example.com", "allowed_by_allowlist") in reasons, reasons
    finally:
        stub.close()


# A DNS client run inside the cell: each argument is an action; prints one
# line per action: "<action> <rcode> <tc> <answers>" or "<action> noanswer".
DNS_CLIENT = r"""
import socket, struct, sys, time

def query(name, qtype=1, qid=7):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)

def show(tag, r):
    print(tag, r[3] & 0xF, (r[2] >> 1) & 1, struct.unpack(">H", r[6:8])[0], flush=True)

def udp(tag, payload, addr=("127.0.0.1", 53), timeout=4.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    t = time.monotonic()
    try:
        s.sendto(payload, addr)
        show(tag, s.recv(4096))
    except OSError as e:
        print(tag, "noanswer", round(time.monotonic() - t, 2), flush=True)

for action in sys.argv[1:]:
    if action == "a":
        udp("a", query("api.example.com"))
    elif action == "evil":
        udp("evil", query("evil.example.com"))
    elif action == "aaaa":
        udp("aaaa", query("api.example.com", 28))
    elif action == "servfail":
        udp("servfail", query("api.example.com"), timeout=5)
    elif action == "malformed":
        udp("malformed", b"\x12\x34\x01\x00\x00\x01garbage", timeout=1)
    elif action == "direct":
        udp("direct", query("evil.example.com"), addr=("8.8.8.8", 53), timeout=2)
    elif action == "dot":
        s = socket.socket(); s.settimeout(2); t = time.monotonic()
        try:
            s.connect(("8.8.8.8", 853)); print("dot", "connected", flush=True)
        except OSError as e:
            print("dot", "failed", round(time.monotonic() - t, 2), flush=True)
    elif action == "tcp":
        s = socket.create_connection(("127.0.0.1", 53), timeout=4)
        for qid in (1, 2):
            q = query("api.example.com", 1, qid)
            s.sendall(struct.pack(">H", len(q)) + q)
        for _ in range(2):
            n = struct.unpack(">H", s.recv(2, socket.MSG_WAITALL))[0]
            show("tcp", s.recv(n, socket.MSG_WAITALL))
"""


def run_dns_client(stub, actions):
    doc = spec(argv=[PY, "-c", DNS_CLIENT] + actions, authority={
        "secretRefs": [],
        "dnsAuthority": {"hostnameAllowlist": ["api.example.com"], "blockDirectWorkloadDns": True,
                         "allowedQueryTypes": ["A", "AAAA"],
                         "resolvers": [{"resolverId": "stub", "protocol": "do53-udp",
                                        "endpoint": f"127.0.0.1:{stub.port}"}]}})
    cell = run_cell(doc, env={"CELLOS_SUBPROCESS_UNSHARE": "net", "CELLOS_DNS_PROXY": "1"})
    assert cell.rc == 0, cell.stderr
    out = {}
    for line in cell.stdout.splitlines():
        tag, *rest = line.split()
        out.setdefault(tag, []).append(rest)
    return cell, out


def test_proxy_through_the_binary_tcp_aaaa_malformed_and_direct_dns():
    stub = UpstreamStub()
    try:
        cell, out = run_dns_client(stub, ["a", "aaaa", "evil", "tcp", "malformed", "a", "direct",
                                          "dot"])
        assert out["a"] == [["0", "0", "1"], ["0", "0", "1"]], out  # and again after garbage
        assert out["aaaa"] == [["0", "0", "0"]], out
        assert out["evil"] == [["5", "0", "0"]], out
        assert out["tcp"] == [["0", "0", "1"], ["0", "0", "1"]], out
        assert out["malformed"][0][0] == "noanswer", out
        # 8.8.8.8:53 is redirected to the proxy (the cell has a default
        # route through loopback when the proxy runs): REFUSED, since the
        # name is not on the allowlist; it never reaches anything else. DoT
        # to anywhere is dropped (CONTRACT section 4): the connect fails.
        assert out["direct"] == [["5", "0", "0"]], out
        assert out["dot"][0][0] == "failed", out
        assert "evil.example.com" not in stub.seen
        reasons = [e["data"]["reasonCode"] for e in cell.of("observability.v1.dns_query")]
        assert "malformed_query" in reasons and "denied_not_in_allowlist" in reasons, reasons
        tcp = [e["data"] for e in cell.of("observability.v1.dns_query") if e["data"]["transport"] == "tcp"]
        assert len(tcp) == 2, tcp
    finally:
        stub.close()


def test_tc_bit_relayed_and_silent_upstream_servfail():
    stub = UpstreamStub(truncate=True)
    try:
        _, out = run_dns_client(stub, ["a"])
        assert out["a"] == [["0", "1", "1"]], out
    finally:
        stub.close()
    stub = UpstreamStub(silent=True)
    try:
        cell, out = run_dns_client(stub, ["servfail"])
        assert out["servfail"] == [["2", "0", "0"]], out
        q = cell.of("observability.v1.dns_query")[0]["data"]
        assert q["reasonCode"] == "upstream_timeout" and q["responseRcode"] == 2
    finally:
        stub.close()


DIRECT_DNS = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(bytes.fromhex("12340100000100000000000003617069076578616d706c6503636f6d0000010001"),
         ("8.8.8.8", 53))
try:
    print("answer", s.recv(512).hex())
except OSError:
    print("noanswer")
"""


def test_a_proxy_that_cannot_start_is_reported_and_the_cell_still_runs():
    """16 declared resolvers need 34 listening sockets; with 24 descriptors
    allowed, the proxy cannot listen. That is one dns_query event with
    reasonCode upstream_failure naming the cause, the workload still runs,
    and direct DNS stays blocked."""
    import resource
    resolvers = [{"resolverId": f"r{i}", "endpoint": f"127.0.0.{i + 2}:53",
                  "protocol": "do53-udp"} for i in range(16)]
    doc = spec(cell_id="dns-cannot-start", argv=[PY, "-c", DIRECT_DNS], authority={
        "secretRefs": [],
        "dnsAuthority": {"hostnameAllowlist": ["api.example.com"], "blockDirectWorkloadDns": True,
                         "resolvers": resolvers}})
    cell = run_cell(doc, env={"CELLOS_SUBPROCESS_UNSHARE": "net", "CELLOS_DNS_PROXY": "1"},
                    preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24)))
    assert cell.rc == 0, cell.stderr
    assert cell.stdout.split() == ["noanswer"], cell.stdout
    queries = [e["data"] for e in cell.of("observability.v1.dns_query")]
    assert len(queries) == 1, queries
    q = queries[0]
    assert q["decision"] == "deny" and q["reasonCode"] == "upstream_failure", q
    assert "cannot listen" in q["message"] and "Too many open files" in q["message"], q
    assert q["upstreamResolverId"] == "r0", q
    assert "the cell runs with direct DNS blocked" in cell.stderr, cell.stderr
    enf = cell.of("observability.v1.network_enforcement")[0]["data"]
    assert enf["dnsProxy"] is False and enf["nftEnforcementApplied"] is True, enf
    types = cell.types()
    assert types.index("observability.v1.dns_query") < types.index("lifecycle.v1.destroyed")


def test_hardened_runs_the_dns_proxy_whenever_the_spec_has_a_dns_authority():
    """CONTRACT section 3: hardened turns the DNS proxy on for a spec with
    dnsAuthority, without CELLOS_DNS_PROXY."""
    stub = UpstreamStub()
    try:
        doc = spec(cell_id="hardened-dns", argv=[PY, "-c", DNS_CLIENT, "a", "evil"], authority={
            "secretRefs": [],
            "dnsAuthority": {"hostnameAllowlist": ["api.example.com"],
                             "blockDirectWorkloadDns": True,
                             "resolvers": [{"resolverId": "stub", "protocol": "do53-udp",
                                            "endpoint": f"127.0.0.1:{stub.port}"}]}})
        cell = run_cell(doc, env={"CELLOS_DEPLOYMENT_PROFILE": "hardened"})
        assert cell.rc == 0, cell.stderr
        assert cell.stdout.split() == ["a", "0", "0", "1", "evil", "5", "0", "0"], cell.stdout
        reasons = [e["data"]["reasonCode"] for e in cell.of("observability.v1.dns_query")]
        assert reasons == ["allowed_by_allowlist", "denied_not_in_allowlist"], reasons
        assert cell.of("observability.v1.network_enforcement")[0]["data"]["dnsProxy"] is True
    finally:
        stub.close()


def test_hardened_refuses_when_the_dns_proxy_cannot_start():
    """The same failure as above in the hardened profile: it refuses what it
    cannot enforce: exit 125, nothing of the workload ran, the reason in
    command.v1.failed and destroyed."""
    import resource
    resolvers = [{"resolverId": f"r{i}", "endpoint": f"127.0.0.{i + 2}:53",
                  "protocol": "do53-udp"} for i in range(16)]
    doc = spec(cell_id="hardened-dns-fail", argv=[PY, "-c", "print('ran')"], authority={
        "secretRefs": [],
        "dnsAuthority": {"hostnameAllowlist": ["api.example.com"], "blockDirectWorkloadDns": True,
                         "resolvers": resolvers}})
    cell = run_cell(doc, env={"CELLOS_DEPLOYMENT_PROFILE": "hardened"},
                    preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24)))
    assert cell.rc == 125, (cell.rc, cell.stderr)
    assert "ran" not in cell.stdout
    assert "hardened profile: not running the cell" in cell.stderr, cell.stderr
    q = cell.of("observability.v1.dns_query")[0]["data"]
    assert q["reasonCode"] == "upstream_failure" and "Too many open files" in q["message"], q
    failed = cell.of("command.v1.failed")[0]["data"]
    assert failed["reasonCode"] == "isolation_failed" and "hardened profile" in failed["message"]
    destroyed = cell.of("lifecycle.v1.destroyed")[0]["data"]
    assert destroyed["outcome"] == "failed", destroyed
    assert cell.types()[-1] == "lifecycle.v1.destroyed"


def test_plan_prints_the_ruleset_and_the_proxies_without_running_anything():
    """cellos plan: the exact table a run would apply and what the proxies
    would do; nothing is created (no netns, no table)."""
    import json
    import tempfile
    doc = spec(cell_id="plan-net", argv=["/bin/true"], authority={
        "secretRefs": [],
        "egressRules": [{"host": "127.0.0.1", "port": 5432, "protocol": "tcp"}],
        "dnsAuthority": {"hostnameAllowlist": ["api.example.com"], "blockDirectWorkloadDns": True,
                         "resolvers": [{"resolverId": "r1", "endpoint": "127.0.0.1:53053",
                                        "protocol": "do53-udp"}]}})
    from harness import CELLOS
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(doc, f)
        f.flush()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELLOS_")}
        env.update({"CELLOS_SUBPROCESS_UNSHARE": "net", "CELLOS_DNS_PROXY": "1",
                    "CELLOS_SNI_PROXY": "1"})
        p = subprocess.run([CELLOS, "plan", f.name], env=env, capture_output=True, text=True)
        off = subprocess.run([CELLOS, "plan", f.name], capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items() if not k.startswith("CELLOS_")})
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "nftables table inet cellos_plan_net" in out, out
    assert 'ip daddr 127.0.0.1 tcp dport 5432 counter accept comment "egress[0] 127.0.0.1:5432/tcp"' in out
    assert "dnat ip to 127.0.0.1:53053" in out and "redirect to :" in out, out
    assert "DNS proxy: listens in the cell on 127.0.0.1:53053 (udp, tcp), 127.0.0.1:53 (udp, tcp)" in out
    assert "upstream: r1" in out and "L7 proxy: TCP to ports 80, 443, 5432" in out, out
    assert "network: the host's (no network namespace, no firewall)" in off.stdout, off.stdout
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert "cellos_plan_net" not in tables


def test_unparsable_resolver_endpoint_is_a_spec_error():
    doc = spec(argv=["true"], authority={"secretRefs": [], "dnsAuthority": {
        "hostnameAllowlist": ["a.example.com"],
        "resolvers": [{"resolverId": "r", "endpoint": "not-an-ip:53", "protocol": "do53-udp"}]}})
    cell = run_cell(doc, env={"CELLOS_DNS_PROXY": "1", "CELLOS_SUBPROCESS_UNSHARE": "net"})
    assert cell.rc == 2 and "spec.authority.dnsAuthority.resolvers[0].endpoint" in cell.stderr, \
        cell.stderr


def test_no_firewall_without_a_netns():
    cell = run_cell(spec(argv=["true"]))
    assert cell.of("observability.v1.network_enforcement") == []


if __name__ == "__main__":
    main(globals())
