#!/usr/bin/env python3
"""Issue 6: the SNI / HTTP Host egress proxy through the real binary.

The script re-executes itself in a network namespace of its own (unshare -n)
standing in for the host: 198.18.0.0/24 on its loopback, a TLS server (python
ssl, a self-signed certificate made here with openssl req) and an HTTP server
on every address, ports 443 and 80, a TCP echo on 5432, and a DNS stub
mapping the test names to 198.18.0.10. Cells run with their own netns, the
DNS proxy and the L7 proxy; from inside, curl reaches the servers by name
only through the proxies."""
import hashlib
import http.server
import os
import shutil
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(__file__))
from harness import main, run_cell, spec  # noqa: E402

PY = "/usr/bin/python3"
SERVER = "198.18.0.10"
OTHER = "198.18.0.12"        # never returned by DNS for api.example.test
DB = "198.18.0.20"
NAMES = {"api.example.test": SERVER, "web.example.test": SERVER,
         "other.example.test": "198.18.0.13"}
BIG_BLOCK = bytes(range(256)) * 4096          # 1 MiB
BIG_BLOCKS = 100                              # 100 MiB
ENV = {"CELLOS_SUBPROCESS_UNSHARE": "net,mnt", "CELLOS_DNS_PROXY": "1", "CELLOS_SNI_PROXY": "1"}
L7 = "observability.v1.l7_egress_decision"


def reexec_in_own_netns():
    if os.environ.get("CELLOS_L7_TEST_NETNS") == "1":
        return
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("curl"):
        print("1..0 # SKIP needs root, unshare(1) and curl")
        sys.exit(0)
    os.environ["CELLOS_L7_TEST_NETNS"] = "1"
    os.execvp("unshare", ["unshare", "-n", "--", sys.executable] + sys.argv)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BIG_BLOCK) * BIG_BLOCKS))
            self.end_headers()
            for _ in range(BIG_BLOCKS):
                self.wfile.write(BIG_BLOCK)
            return
        body = ("hello %s %s\n" % (self.server.kind, self.headers.get("Host"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)


class EchoServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def dns_stub():
    """UDP on 127.0.0.1: A for NAMES, an empty NOERROR for anything else."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))

    def serve():
        while True:
            data, peer = s.recvfrom(512)
            i, labels = 12, []
            while data[i]:
                labels.append(data[i + 1:i + 1 + data[i]].decode().lower())
                i += data[i] + 1
            qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
            qend = i + 5
            addr = NAMES.get(".".join(labels))
            if addr and qtype == 1:
                ans = data[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + data[12:qend]
                ans += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(addr)
            else:
                ans = data[:2] + struct.pack(">HHHHH", 0x8180, 1, 0, 0, 0) + data[12:qend]
            s.sendto(ans, peer)

    threading.Thread(target=serve, daemon=True).start()
    return s.getsockname()[1]


def start_servers():
    subprocess.run("ip link set lo up && ip addr add 198.18.0.1/24 dev lo", shell=True,
                   check=True)
    work = tempfile.mkdtemp(prefix="cellos-l7-", dir="/var/tmp")   # the cell sees /var/tmp
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=api.example.test", "-addext",
                    "subjectAltName=DNS:api.example.test,DNS:evil.example.test"],
                   check=True, capture_output=True)
    os.chmod(work, 0o755)
    os.chmod(cert, 0o644)
    tls = Server(("0.0.0.0", 443), Handler)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    tls.kind = "tls"
    plain = Server(("0.0.0.0", 80), Handler)
    plain.kind = "http"
    echo = EchoServer(("0.0.0.0", 5432), Echo)
    for s in (tls, plain, echo):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    return work, cert, dns_stub()


WORK = CERT = DNS_PORT = None


def doc(argv, egress=None, cell_id="l7-cell"):
    return spec(cell_id=cell_id, argv=argv, authority={
        "secretRefs": [],
        "egressRules": egress or [],
        "dnsAuthority": {
            "hostnameAllowlist": ["api.example.test", "web.example.test", "other.example.test"],
            "blockDirectWorkloadDns": True,
            "resolvers": [{"resolverId": "stub", "protocol": "do53-udp",
                           "endpoint": f"127.0.0.1:{DNS_PORT}"}]}})


def curl(*args):
    return ["curl", "-sS", "--max-time", "20", "--cacert", CERT, *args]


def decisions(cell):
    return [e["data"] for e in cell.of(L7)]


def test_https_by_name_with_the_servers_certificate():
    cell = run_cell(doc(curl("https://api.example.test/hello")), env=ENV)
    assert cell.rc == 0, (cell.rc, cell.stdout, cell.stderr)
    assert cell.stdout == "hello tls api.example.test\n", cell.stdout
    d = decisions(cell)
    assert len(d) == 1, d
    assert d[0]["decision"] == "allow" and d[0]["reasonCode"] == "l7_sni_allowlist_match", d
    assert d[0]["host"] == "api.example.test" and d[0]["protocol"] == "tls", d
    assert d[0]["destination"] == SERVER + ":443", d
    enf = cell.of("observability.v1.network_enforcement")[0]["data"]
    assert enf["sniProxy"] is True and enf["dnsProxy"] is True, enf
    assert enf["l7Connections"]["allowed"] == 1, enf


def test_http_by_name():
    cell = run_cell(doc(curl("http://web.example.test/hello")), env=ENV)
    assert cell.rc == 0, (cell.rc, cell.stdout, cell.stderr)
    assert cell.stdout == "hello http web.example.test\n", cell.stdout
    d = decisions(cell)
    assert len(d) == 1 and d[0]["reasonCode"] == "l7_http_host_allowlist_match", d
    assert d[0]["protocol"] == "http" and d[0]["destination"] == SERVER + ":80", d


def test_denied_tls_name_is_closed():
    # The DNS proxy would refuse the name: the client is given the address.
    cell = run_cell(doc(curl("--resolve", f"evil.example.test:443:{SERVER}",
                             "https://evil.example.test/hello")), env=ENV)
    assert cell.rc != 0 and "hello" not in cell.stdout, (cell.rc, cell.stdout)
    d = decisions(cell)
    assert len(d) == 1, d
    assert d[0]["decision"] == "deny" and d[0]["reasonCode"] == "l7_sni_allowlist_miss", d
    assert d[0]["host"] == "evil.example.test", d


def test_denied_http_name_gets_403_with_a_reason():
    cell = run_cell(doc(curl("-i", "--resolve", f"evil.example.test:80:{SERVER}",
                             "http://evil.example.test/hello")), env=ENV)
    assert cell.stdout.startswith("HTTP/1.1 403 Forbidden"), cell.stdout
    assert "l7_http_host_allowlist_miss" in cell.stdout.splitlines()[-1], cell.stdout
    d = decisions(cell)
    assert len(d) == 1 and d[0]["reasonCode"] == "l7_http_host_allowlist_miss", d


def test_allowed_sni_to_an_address_never_resolved_for_it_is_refused():
    cell = run_cell(doc(curl("--resolve", f"api.example.test:443:{OTHER}",
                             "https://api.example.test/hello")), env=ENV)
    assert cell.rc != 0 and "hello" not in cell.stdout, (cell.rc, cell.stdout)
    d = decisions(cell)
    assert len(d) == 1, d
    assert d[0]["decision"] == "deny" and d[0]["reasonCode"] == "l7_sni_allowlist_miss", d
    assert d[0]["detail"] == "destination not resolved for host", d
    assert d[0]["destination"] == OTHER + ":443", d


def test_egress_rule_address_admits_an_allowed_name():
    cell = run_cell(doc(curl("--resolve", f"api.example.test:443:{OTHER}",
                             "https://api.example.test/hello"),
                        egress=[{"host": OTHER, "port": 443}]), env=ENV)
    assert cell.rc == 0 and cell.stdout.startswith("hello tls"), (cell.stdout, cell.stderr)
    assert decisions(cell)[0]["reasonCode"] == "l7_sni_allowlist_match"


def test_plain_egress_port_is_relayed_and_reported_as_a_flow():
    probe = ("import socket\n"
             f"s = socket.create_connection(('{DB}', 5432), timeout=5)\n"
             "s.sendall(b'ping'); print(s.recv(16).decode())\n"
             "try:\n"
             f"    socket.create_connection(('198.18.0.21', 5432), timeout=5).recv(1); print('open')\n"
             "except OSError as e:\n    print('refused')\n")
    cell = run_cell(doc([PY, "-c", probe], egress=[{"host": DB, "port": 5432}]), env=ENV)
    assert cell.rc == 0, cell.stderr
    assert cell.stdout.split() == ["ping", "refused"], cell.stdout
    flows = [e["data"] for e in cell.of("observability.v1.network_flow_decision")
             if e["data"]["source"] == "proxy"]
    assert [f["verdict"] for f in flows] == ["accept", "reject"], flows
    assert flows[0]["dstAddr"] == DB and flows[0]["dstPort"] == 5432, flows
    assert flows[0]["rule"] == f"egress[0] {DB}:5432/tcp", flows
    assert decisions(cell) == [], "plain flows are not inspected"


def test_100_mib_transfer_is_byte_exact():
    want = hashlib.sha256()
    for _ in range(BIG_BLOCKS):
        want.update(BIG_BLOCK)
    cell = run_cell(doc(["/bin/sh", "-c", " ".join(curl("https://api.example.test/big"))
                         + " | sha256sum"]), env=ENV, timeout=120)
    assert cell.rc == 0, (cell.stdout, cell.stderr)
    assert cell.stdout.split()[0] == want.hexdigest(), cell.stdout
    enf = cell.of("observability.v1.network_enforcement")[0]["data"]
    assert enf["l7Connections"]["bytesDown"] > BIG_BLOCKS * len(BIG_BLOCK), enf


if __name__ == "__main__":
    reexec_in_own_netns()
    try:
        WORK, CERT, DNS_PORT = start_servers()
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"1..0 # SKIP cannot start the test's servers: {e}")
        sys.exit(0)
    try:
        main(globals())
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
