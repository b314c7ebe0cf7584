#!/usr/bin/python3
"""Signed events, checked by an independent implementation.

Usage: test_sign_interop.py SIGN_VECTOR VERIFY_CLI   (prints TAP)

Everything cellos signs is re-checked here with code that shares nothing with
it: RFC 8785 canonical JSON written from the RFC in Python (UTF-16 member
order, ECMAScript numbers), SHA-256 chains with hashlib, Ed25519 with PyNaCl
(libsodium's Python binding, but a separate caller), HMAC-SHA256 with the
hmac module. In the other direction, streams signed here must pass
`cellos verify`, and tampered ones must not.
"""

import base64
import hashlib
import hmac
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import nacl.signing
    import nacl.exceptions
except ImportError:
    # meson may have found a python3 without PyNaCl (pyenv, venv): the
    # Debian one has it (python3-nacl).
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("1..0 # SKIP python3-nacl is not installed")
    sys.exit(0)

SIGNED_TYPE = "dev.cellos.events.signed.v1"
DESTROYED = "dev.cellos.events.cell.lifecycle.v1.destroyed"
ZERO_DIGEST = "sha256:" + "0" * 64


# ---- RFC 8785, from the RFC ------------------------------------------------

def es_number(x):
    """ECMAScript Number.prototype.toString of a double."""
    if math.isnan(x) or math.isinf(x):
        raise ValueError("NaN and Infinity have no JSON form")
    if x == 0:
        return "0"
    if x < 0:
        return "-" + es_number(-x)
    # repr gives the shortest digits that read back (closest if several).
    mantissa, _, exp = repr(x).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    scale = int(exp or 0) - len(frac)          # value = int(digits) * 10**scale
    stripped = digits.rstrip("0")
    scale += len(digits) - len(stripped)
    s, k = stripped, len(stripped)
    n = k + scale                               # value = 0.s * 10**n
    if k <= n <= 21:
        return s + "0" * (n - k)
    if 0 < n <= 21:
        return s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + s
    e = n - 1
    sign = "+" if e >= 0 else "-"
    return (s[0] + ("." + s[1:] if k > 1 else "")) + "e" + sign + str(abs(e))


def jcs_string(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
        elif c < 0x20:
            out.append("\\u%04x" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jcs(v):
    """The canonical text of a parsed JSON value."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v) if abs(v) <= 2 ** 53 else es_number(float(v))
    if isinstance(v, float):
        return es_number(v)
    if isinstance(v, str):
        return jcs_string(v)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        # Big-endian UTF-16 bytes compare like the code units themselves.
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jcs_string(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise TypeError(type(v))


def jcs_bytes(v):
    return jcs(v).encode("utf-8")


# ---- envelopes -------------------------------------------------------------

def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_bytes(data):
    return jcs_bytes({k: data[k] for k in ("alg", "kid", "seq", "prevDigest", "event")})


def digest(raw):
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def check_envelopes(lines, verify_sig):
    """Recompute every signed byte, seq and chain link; verify_sig(bytes, sig)."""
    prev = ZERO_DIGEST
    for seq, line in enumerate(lines):
        ce = json.loads(line)
        assert ce["type"] == SIGNED_TYPE, ce["type"]
        data = ce["data"]
        assert sorted(data) == sorted(["alg", "kid", "seq", "prevDigest", "event", "signature"])
        assert data["seq"] == seq, (data["seq"], seq)
        assert data["prevDigest"] == prev, "chain at seq %d" % seq
        raw = signed_bytes(data)
        assert "=" not in data["signature"], "padding in signature"
        verify_sig(raw, unb64url(data["signature"]))
        prev = digest(raw)


def sign_stream(events, alg, kid, key):
    """Our own producer: envelopes signed here, for cellos to verify."""
    lines, prev = [], ZERO_DIGEST
    for seq, ev in enumerate(events):
        data = {"alg": alg, "kid": kid, "seq": seq, "prevDigest": prev, "event": ev}
        raw = jcs_bytes(data)
        if alg == "ed25519":
            sig = key.sign(raw).signature
        else:
            sig = hmac.new(key, raw, hashlib.sha256).digest()
        data["signature"] = b64url(sig)
        prev = digest(raw)
        ce = {"specversion": "1.0", "id": "urn:cellos:event:py-%d" % seq,
              "source": "urn:cellos:host:python", "type": SIGNED_TYPE,
              "time": "2024-01-01T00:00:00.000Z", "datacontenttype": "application/json",
              "data": data}
        lines.append(json.dumps(ce, ensure_ascii=False))
    return lines


def events_for(run_id, count=5, huge_ints=False):
    """Plain events with the awkward parts: non-BMP and U+E000+ keys,
    control characters, floats on both sides of the exponent limits."""
    evs = []
    for i in range(count):
        etype = ("dev.cellos.events.cell.lifecycle.v1.started" if i == 0 else
                 DESTROYED if i == count - 1 else
                 "dev.cellos.events.cell.observability.v1.dns_query")
        evs.append({
            "specversion": "1.0", "id": "urn:cellos:event:%s-%d" % (run_id, i),
            "source": "urn:cellos:host:interop", "type": etype,
            "time": "2024-01-01T00:00:00.000Z", "datacontenttype": "application/json",
            "subject": "urn:cellos:cell:interop",
            "data": {
                "cellId": "interop", "specId": "interop", "runId": run_id,
                "\ue000private": 1, "\U0001f600grin": 2, "\u00e9": 3, "Z": 4,
                "text": "tab\there \"quoted\" back\\slash \u0001\u001f \u2028 \U0001f680",
                "numbers": [0.1, 1e21, 1e-7, 123456789012345680000.0, -0.0, 2.5e-8,
                            9007199254740993, -17, 4.35, 1e300 * i],
                "n": i,
            },
        })
        if huge_ints:   # beyond int64: JCS reads them as doubles
            evs[-1]["data"]["huge"] = [10 ** 20, -(2 ** 70), 2 ** 64 + 1]
    return evs


# ---- TAP ---------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, name, fn):
        self.n += 1
        try:
            fn()
            print("ok %d - %s" % (self.n, name))
        except Exception as e:  # any failure, assertion or not, fails the test
            self.failed += 1
            print("not ok %d - %s" % (self.n, name))
            for line in ("%s: %s" % (type(e).__name__, e)).splitlines():
                print("# " + line)
        sys.stdout.flush()


def run(argv, stdin=b""):
    return subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120)


def main():
    sign_vector, verify_cli = sys.argv[1], sys.argv[2]
    tap = Tap()
    rng = random.Random(8785)
    seed = bytes(range(32))
    sk = nacl.signing.SigningKey(seed)
    pk_text = b64url(bytes(sk.verify_key))
    hmac_key = b"cellos interop hmac key, 37 bytes.."
    tmp = tempfile.mkdtemp(prefix="cellos-sign-interop-")
    try:
        return checks(tap, tmp, sign_vector, verify_cli, rng, seed, sk, pk_text, hmac_key)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def checks(tap, tmp, sign_vector, verify_cli, rng, seed, sk, pk_text, hmac_key):

    def write(name, text):
        path = os.path.join(tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    keys_path = write("keys.json", json.dumps({"k-ed": pk_text, "k-hmac": b64url(hmac_key)}))

    def c_sign(alg, kid, key_text, events):
        out = run([sign_vector, "sign", alg, kid, key_text],
                  "".join(json.dumps(e) + "\n" for e in events).encode())
        assert out.returncode == 0, out.stderr.decode()
        # split on "\n" only: splitlines() would also cut at U+2028 in a string
        return out.stdout.decode().split("\n")[:-1]

    def rfc_vectors():
        assert es_number(struct.unpack(">d", bytes.fromhex("444b1ae4d6e2ef50"))[0]) == "1e+21"
        assert es_number(struct.unpack(">d", bytes.fromhex("3eb0c6f7a0b5ed8c"))[0]) == \
            "9.999999999999997e-7"
        sample = json.loads('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, '
                            '0.000000000000000000000000001], "string": "\\u20ac$\\u000F'
                            '\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": '
                            '[null, true, false]}')
        want = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,'
                '1e-27],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
        assert jcs(sample) == want, jcs(sample)
    tap.check("the Python JCS reproduces RFC 8785's own examples", rfc_vectors)

    def pubkey():
        out = run([sign_vector, "pubkey", b64url(seed)])
        assert out.stdout.decode().strip() == pk_text, (out.stdout, pk_text)
    tap.check("cellos derives the same Ed25519 public key as PyNaCl", pubkey)

    def ed25519_envelopes():
        lines = c_sign("ed25519", "k-ed", b64url(seed), events_for("run-ed"))
        assert len(lines) == 5
        check_envelopes(lines, lambda raw, sig: sk.verify_key.verify(raw, sig))
        assert json.loads(lines[0])["data"]["alg"] == "ed25519"
    tap.check("Ed25519 envelopes from cellos verify with PyNaCl over Python's JCS bytes",
              ed25519_envelopes)

    def hmac_envelopes():
        lines = c_sign("hmac", "k-hmac", b64url(hmac_key) + "=", events_for("run-h"))

        def check(raw, sig):
            want = hmac.new(hmac_key, raw, hashlib.sha256).digest()
            assert hmac.compare_digest(want, sig), "HMAC differs"
        check_envelopes(lines, check)
        assert json.loads(lines[0])["data"]["alg"] == "hmac-sha256"
    tap.check("HMAC-SHA256 envelopes from cellos check with Python's hmac", hmac_envelopes)

    def tamper_seen_by_python():
        lines = c_sign("ed25519", "k-ed", b64url(seed), events_for("run-t"))
        ce = json.loads(lines[2])
        ce["data"]["event"]["data"]["n"] = 99
        lines[2] = json.dumps(ce)
        try:
            check_envelopes(lines, lambda raw, sig: sk.verify_key.verify(raw, sig))
        except nacl.exceptions.BadSignatureError:
            return
        raise AssertionError("a changed event still verified")
    tap.check("a changed event fails the independent check too", tamper_seen_by_python)

    def verify(lines, *args):
        path = write("events.jsonl", "".join(l + "\n" for l in lines))
        return run([verify_cli] + list(args) + [path])

    py_ed = sign_stream(events_for("run-py", huge_ints=True), "ed25519", "k-ed", sk)
    py_hmac = sign_stream(events_for("run-py-h"), "hmac-sha256", "k-hmac", hmac_key)

    def python_signed_verify():
        for lines in (py_ed, py_hmac, [x for pair in zip(py_ed, py_hmac) for x in pair]):
            out = verify(lines, "--keys", keys_path)
            assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
            assert b"verdict: OK" in out.stdout, out.stdout
    tap.check("streams signed by Python pass cellos verify (both algs, interleaved)",
              python_signed_verify)

    def tampered_fail():
        cases = {
            "changed": lambda l: l[:2] + [l[2].replace('"n": 2', '"n": 3')] + l[3:],
            "dropped": lambda l: l[:2] + l[3:],
            "duplicated": lambda l: l[:3] + [l[2]] + l[3:],
            "reordered": lambda l: l[:1] + [l[2], l[1]] + l[3:],
            "truncated": lambda l: l[:-1],
        }
        for name, fn in cases.items():
            out = verify(fn(list(py_ed)), "--keys", keys_path)
            assert out.returncode == 1, (name, out.returncode, out.stdout)
            err = out.stderr.decode()
            assert err.startswith("cellos: verify: ") and "line " in err, (name, err)
    tap.check("tampered Python streams: cellos verify exits 1 and says where", tampered_fail)

    def without_keys():
        out = verify(py_ed)
        assert out.returncode == 3, out.returncode
        assert b"signatures not checked" in out.stderr, out.stderr
        assert b"verdict: OK" not in out.stdout
    tap.check("without --keys: exit 3, never reported as verified", without_keys)

    def json_report():
        out = verify(py_ed[:-1], "--keys", keys_path, "--json")
        assert out.returncode == 1
        rep = json.loads(out.stdout)
        assert rep["verdict"] == "failed" and rep["signaturesChecked"] is True
        assert rep["findings"][0]["code"] == "truncated", rep["findings"]
        assert rep["findings"][0]["line"] == 4
        assert rep["runs"][0]["runId"] == "run-py" and rep["runs"][0]["sealed"] is False
        out = verify(py_ed, "--json", "--keys", keys_path)
        rep = json.loads(out.stdout)
        assert out.returncode == 0 and rep["verdict"] == "ok" and rep["findings"] == []
    tap.check("--json prints a machine-readable report", json_report)

    def usage_errors():
        bad_keys = write("bad-keys.json", '{"k-ed": "not base64!"}')
        for args in (["--keys", bad_keys, os.path.join(tmp, "events.jsonl")],
                     [os.path.join(tmp, "missing.jsonl")], [], ["--bogus", "x"]):
            out = run([verify_cli] + args)
            assert out.returncode == 2, (args, out.returncode)
            assert out.stderr.decode().startswith("cellos: verify: "), out.stderr
        out = run([verify_cli, "--help"])
        assert out.returncode == 0 and b"Usage: cellos verify" in out.stdout
    tap.check("usage errors and unreadable files exit 2 with cellos: verify: ...", usage_errors)

    def alg_confusion():
        forged = sign_stream(events_for("run-f"), "hmac-sha256", "k-ed", bytes(sk.verify_key))
        out = verify(forged, "--keys", keys_path)
        assert out.returncode == 1 and b"alg_mismatch" in out.stdout, out.stdout
    tap.check("HMAC forged with the public key as secret is refused", alg_confusion)

    def random_value(depth=0):
        pools = ["abcXYZ019 ", "\u0000\u0001\u001f\"\\/\b\f\n\r\t\u007f",
                 "\u00e9\u00f6\u0080\u20ac\ufb33\ue000\uffff\ufffd",
                 "\U0001f600\U00010000\U0010ffff\U0001d11e"]

        def rstr(allow_nul=True):
            s = "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 6)))
            return s if allow_nul else s.replace("\u0000", "0")
        kind = rng.randint(0, 7 if depth < 4 else 4)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.randint(-2 ** 62, 2 ** 62) if rng.random() < 0.5 else rng.randint(-999, 999)
        if kind == 2:
            return struct.unpack(">d", struct.pack(">Q", rng.getrandbits(64)))[0]
        if kind in (3, 4):
            return rstr()
        if kind == 5:
            return [random_value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {rstr(False): random_value(depth + 1) for _ in range(rng.randint(0, 6))}

    def differential_canon():
        values = []
        while len(values) < 3000:
            v = random_value()
            try:
                json.dumps(v, allow_nan=False)
            except ValueError:
                continue
            values.append(v)
        inp = "".join(json.dumps(v, ensure_ascii=True, allow_nan=False) + "\n" for v in values)
        out = run([sign_vector, "canon"], inp.encode())
        assert out.returncode == 0, out.stderr.decode()
        got = out.stdout.split(b"\n")[:-1]
        assert len(got) == len(values), (len(got), len(values))
        for v, g in zip(values, got):
            assert g == jcs_bytes(v), (v, g, jcs_bytes(v))
    tap.check("3000 random values: cellos and Python canonical bytes agree", differential_canon)

    def differential_numbers():
        bits = [rng.getrandbits(64) for _ in range(30000)]
        bits += [(e << 52) for e in range(0, 2047)]                    # powers of two
        bits += [struct.unpack(">Q", struct.pack(">d", float("%.*g" % (rng.randint(1, 17),
                 rng.uniform(-1e25, 1e25)))))[0] for _ in range(5000)]  # short decimals
        bits += [struct.unpack(">Q", struct.pack(">d", 10.0 ** e))[0] for e in range(-30, 30)]
        out = run([sign_vector, "numbers"], "".join("%016x\n" % b for b in bits).encode())
        got = out.stdout.decode().split("\n")[:-1]
        assert len(got) == len(bits)
        bad = 0
        for b, g in zip(bits, got):
            x = struct.unpack(">d", struct.pack(">Q", b))[0]
            want = "error" if math.isnan(x) or math.isinf(x) else es_number(x)
            if g != want:
                bad += 1
                if bad < 5:
                    print("# %016x: cellos %s, python %s" % (b, g, want))
        assert bad == 0, "%d of %d differ" % (bad, len(bits))
    tap.check("37000 doubles: cellos and Python agree on ECMAScript number text",
              differential_numbers)

    print("1..%d" % tap.n)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
