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
    assert cell.types().index("observability.v1.network_enforcement") < \
        cell.types().index("command.v1.completed")
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


def test_no_firewall_without_a_netns():
    cell = run_cell(spec(argv=["true"]))
    assert cell.of("observability.v1.network_enforcement") == []


if __name__ == "__main__":
    main(globals())
