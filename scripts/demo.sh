#!/usr/bin/env bash
# `make demo`: run one real cell and show what it emitted.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/demo.XXXXXX)
# An upstream resolver for the cell's DNS proxy, in this (the supervisor's)
# network namespace.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 scripts/demo-dns-stub.py "$port" & stub=$!
trap 'kill $stub 2>/dev/null; rm -rf "$work"' EXIT

cat > "$work/spec.json" <<'JSON'
{
  "apiVersion": "cellos.io/v1",
  "kind": "ExecutionCell",
  "spec": {
    "id": "demo-cell-001",
    "correlation": { "correlationId": "demo-1" },
    "authority": {
      "secretRefs": ["DEMO_TOKEN"],
      "dnsAuthority": {
        "hostnameAllowlist": ["api.example.com"],
        "blockDirectWorkloadDns": true,
        "resolvers": [ { "resolverId": "demo-upstream", "endpoint": "127.0.0.1:PORT", "protocol": "do53-udp" } ]
      }
    },
    "lifetime": { "ttlSeconds": 60 },
    "run": {
      "argv": ["/bin/sh", "-c",
               "echo \"hello from cell $CELLOS_CELL_ID (hostname $(hostname), pid $$, user $(id -un))\"; echo 'environment:'; env | sort | sed 's/^DEMO_TOKEN=.*/DEMO_TOKEN=<redacted by the demo>/; s/^/  /'; echo \"processes visible: $(ls /proc | grep -c '^[0-9]')\"; echo \"network interfaces: $(ls /sys/class/net | tr '\\n' ' ')\"; touch /usr/x 2>/dev/null || echo 'host tree: read-only'; for n in api.example.com evil.example.com; do echo \"resolve $n: $(getent hosts $n || echo refused by the DNS proxy)\"; done; echo work > /job/out && echo \"workspace /job: writable ($(stat -c %U /job))\"; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"],
      "workingDirectory": "/job",
      "timeoutMs": 10000,
      "secretDelivery": "env",
      "limits": { "memoryMaxBytes": 268435456, "pidsMax": 64 }
    }
  }
}
JSON
sed -i "s/127.0.0.1:PORT/127.0.0.1:$port/" "$work/spec.json"

echo "== cellos validate"
build/cellos validate "$work/spec.json"
echo
echo "== cellos plan (what will be enforced, abridged)"
CELLOS_DEPLOYMENT_PROFILE=hardened build/cellos plan "$work/spec.json" | grep -vE '^  (bind-ro|symlink|bind-dev)'
echo
echo "== cellos run, hardened profile, DNS proxy on (workload output follows)"
status=0
CELLOS_DEPLOYMENT_PROFILE=hardened CELLOS_DNS_PROXY=1 CELLOS_JSONL_SINK_PATH="$work/events.jsonl" \
  CELLOS_SECRET_DEMO_TOKEN="demo-secret" build/cellos run "$work/spec.json" || status=$?
echo "   exit status: $status"
echo
echo "== cellos events (the run's CloudEvents as a timeline)"
build/cellos events "$work/events.jsonl"
echo
echo "== raw first event"
head -n 1 "$work/events.jsonl"
