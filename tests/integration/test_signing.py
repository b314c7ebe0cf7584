#!/usr/bin/env python3
"""Signed event streams from real runs: `cellos verify` accepts them, an
independent Ed25519 implementation (PyNaCl) agrees, tampering is caught, and a
bad signing configuration fails closed before anything runs."""
import base64
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import CELLOS, PREFIX, main, run_cell, spec  # noqa: E402

import nacl.signing  # noqa: E402

SEED = bytes(range(32))


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def signing_env(alg="ed25519", key=b64url(SEED), kid="k1"):
    return {"CELLOS_EVENT_SIGNING": alg, "CELLOS_EVENT_SIGNING_KID": kid,
            "CELLOS_EVENT_SIGNING_KEY_BASE64": key}


def keys_file(d, entries):
    path = os.path.join(d, "keys.json")
    with open(path, "w") as f:
        json.dump(entries, f)
    return path


def signed_run(d, env):
    events = os.path.join(d, "events.jsonl")
    e = dict(env, CELLOS_JSONL_SINK_PATH=events)
    cell = run_cell(spec(argv=["/bin/sh", "-c", "exit 3"]), env=e)
    with open(events) as f:
        return cell, events, f.read().splitlines()


def verify(keys, path):
    return subprocess.run([CELLOS, "verify", "--keys", keys, path], capture_output=True, text=True)


def jcs(value):
    # Our events hold only ASCII keys, strings, integers, booleans and null:
    # for those, sorted compact JSON is the RFC 8785 form.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_signed_run_verifies_with_cellos_and_pynacl():
    with tempfile.TemporaryDirectory() as d:
        cell, path, lines = signed_run(d, signing_env())
        assert cell.rc == 3, cell.stderr
        pub = nacl.signing.SigningKey(SEED).verify_key
        keys = keys_file(d, {"k1": b64url(bytes(pub))})
        p = verify(keys, path)
        assert p.returncode == 0, p.stdout + p.stderr
        prev = "sha256:" + "0" * 64
        import hashlib
        for seq, line in enumerate(lines):
            outer = json.loads(line)
            assert outer["type"] == "dev.cellos.events.signed.v1"
            data = outer["data"]
            assert data["seq"] == seq and data["prevDigest"] == prev and data["kid"] == "k1"
            signed = jcs({k: data[k] for k in ("alg", "kid", "seq", "prevDigest", "event")})
            sig = base64.urlsafe_b64decode(data["signature"] + "=" * (-len(data["signature"]) % 4))
            pub.verify(signed, sig)  # raises when the signature does not hold
            prev = "sha256:" + hashlib.sha256(signed).hexdigest()
        inner = [json.loads(l)["data"]["event"]["type"] for l in lines]
        assert inner == [PREFIX + "lifecycle.v1.started", PREFIX + "command.v1.completed",
                         PREFIX + "lifecycle.v1.destroyed"]


def test_tampering_with_a_real_stream_is_caught():
    with tempfile.TemporaryDirectory() as d:
        _, path, lines = signed_run(d, signing_env())
        keys = keys_file(d, {"k1": b64url(bytes(nacl.signing.SigningKey(SEED).verify_key))})
        variants = {
            "changed": [lines[0], lines[1].replace('"exitCode":3', '"exitCode":0'), lines[2]],
            "deleted": [lines[0], lines[2]],
            "duplicated": [lines[0], lines[1], lines[1], lines[2]],
            "swapped": [lines[1], lines[0], lines[2]],
            "truncated": lines[:2],
        }
        for name, body in variants.items():
            bad = os.path.join(d, name + ".jsonl")
            with open(bad, "w") as f:
                f.write("\n".join(body) + "\n")
            p = verify(keys, bad)
            assert p.returncode == 1, (name, p.stdout)
        other = nacl.signing.SigningKey(bytes(32 * [7]))
        p = verify(keys_file(d, {"k1": b64url(bytes(other.verify_key))}), path)
        assert p.returncode == 1, "verified with the wrong key"


def test_events_timeline_shows_verification_per_event():
    with tempfile.TemporaryDirectory() as d:
        _, path, lines = signed_run(d, signing_env())
        keys = keys_file(d, {"k1": b64url(bytes(nacl.signing.SigningKey(SEED).verify_key))})
        p = subprocess.run([CELLOS, "events", "--keys", keys, path], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        out = p.stdout.splitlines()
        assert len(out) == 3 and all(l.startswith("verified ") for l in out), out
        bad = os.path.join(d, "bad.jsonl")
        with open(bad, "w") as f:
            f.write(lines[0] + "\n" + lines[1].replace('"exitCode":3', '"exitCode":0') + "\n")
        p = subprocess.run([CELLOS, "events", "--keys", keys, bad], capture_output=True, text=True)
        assert p.returncode == 1
        out = p.stdout.splitlines()
        assert out[0].startswith("verified ") and out[1].startswith("signature_mismatch"), out
        assert any("truncated" in l for l in out[2:]), out


def test_hmac_stream_verifies():
    with tempfile.TemporaryDirectory() as d:
        key = b"an hmac key of any length"
        _, path, _ = signed_run(d, signing_env("hmac", b64url(key), "h1"))
        p = verify(keys_file(d, {"h1": {"alg": "hmac-sha256", "key": b64url(key)}}), path)
        assert p.returncode == 0, p.stdout + p.stderr


def test_bad_signing_configuration_fails_closed():
    for env in (signing_env(key="not*base64"), signing_env(kid=""), signing_env(key=b64url(b"short")),
                signing_env(alg="rsa")):
        with tempfile.TemporaryDirectory() as d:
            marker = os.path.join(d, "ran")
            cell = run_cell(spec(argv=["/bin/touch", marker]), env=env)
            assert cell.rc == 125, (env, cell.rc)
            assert not os.path.exists(marker)
            assert cell.events == [], "unsigned events were written"
            assert "CELLOS_EVENT_SIGNING" in cell.stderr, cell.stderr


if __name__ == "__main__":
    main(globals())
