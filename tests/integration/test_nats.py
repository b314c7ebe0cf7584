#!/usr/bin/env python3
"""The NATS JetStream primary sink against a real `nats-server -js` started
here: every event of a run arrives in order; a server stopped for 2 s in the
middle of a run and restarted loses and duplicates nothing; with
CELL_OS_REQUIRE_JETSTREAM=1 and no server nothing runs (exit 125)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, PREFIX, main, run_cell, spec  # noqa: E402

DUMP = os.path.join(BUILD, "tests", "helpers", "nats-dump")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """nats-server with JetStream on a loopback port and a private store."""

    def __init__(self):
        self.port = free_port()
        self.store = tempfile.mkdtemp(prefix="it-nats-")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["nats-server", "-js", "-a", "127.0.0.1", "-p",
                                      str(self.port), "-sd", self.store],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def messages(self):
        out = subprocess.run([DUMP, self.url, "CELLOS_EVENTS"], capture_output=True, text=True,
                             timeout=30)
        return [json.loads(l) for l in out.stdout.splitlines() if l.strip()]

    def close(self):
        self.stop()
        shutil.rmtree(self.store, ignore_errors=True)


def test_every_event_arrives_in_order():
    srv = Server()
    try:
        srv.start()
        cell = run_cell(spec(argv=["true"]), env={"CELLOS_NATS_URL": srv.url})
        assert cell.rc == 0, cell.stderr
        got = srv.messages()
        assert [m["id"] for m in got] == [e["id"] for e in cell.events], "NATS and JSONL differ"
        assert [m["type"] for m in got] == [PREFIX + t for t in
                                           ("lifecycle.v1.started", "command.v1.completed",
                                            "lifecycle.v1.destroyed")]
    finally:
        srv.close()


def test_server_restart_mid_run_loses_nothing():
    srv = Server()
    try:
        srv.start()
        with tempfile.TemporaryDirectory() as d:
            events = os.path.join(d, "e.jsonl")
            sp = os.path.join(d, "spec.json")
            with open(sp, "w") as f:
                json.dump(spec(argv=["sleep", "3"]), f)
            env = {k: v for k, v in os.environ.items() if not k.startswith("CELLOS")}
            env.update(CELLOS_NATS_URL=srv.url, CELLOS_JSONL_SINK_PATH=events,
                       CELLOS_EVENT_SIGNING="hmac", CELLOS_EVENT_SIGNING_KID="k",
                       CELLOS_EVENT_SIGNING_KEY_BASE64="c2VjcmV0")
            p = subprocess.Popen([os.path.join(BUILD, "cellos"), "run", sp], env=env,
                                 stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)          # started is out
            srv.stop()               # the server goes away mid-run...
            time.sleep(2.0)
            srv.start()              # ...and comes back before the run ends
            rc = p.wait(timeout=60)
            assert rc == 0, p.stderr.read()
            with open(events) as f:
                mirror = [json.loads(l) for l in f]
        got = srv.messages()
        seqs = [m["data"]["seq"] for m in got]
        assert seqs == list(range(len(mirror))), f"seq in the stream: {seqs}"
        assert [m["id"] for m in got] == [m["id"] for m in mirror]
        assert got[-1]["data"]["event"]["type"] == PREFIX + "lifecycle.v1.destroyed"
    finally:
        srv.close()


def test_require_jetstream_without_server_runs_nothing():
    with tempfile.TemporaryDirectory() as d:
        marker = os.path.join(d, "ran")
        cell = run_cell(spec(argv=["/bin/touch", marker]),
                        env={"CELLOS_NATS_URL": f"nats://127.0.0.1:{free_port()}",
                             "CELL_OS_REQUIRE_JETSTREAM": "1"})
        assert cell.rc == 125, cell.rc
        assert not os.path.exists(marker)
        assert "CELL_OS_REQUIRE_JETSTREAM" in cell.stderr


def test_unreachable_without_require_warns_and_mirrors():
    cell = run_cell(spec(argv=["true"]), env={"CELLOS_NATS_URL": f"nats://127.0.0.1:{free_port()}"})
    assert cell.rc == 0 and "warning" in cell.stderr
    assert len(cell.events) == 3


if __name__ == "__main__":
    main(globals())
