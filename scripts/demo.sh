#!/usr/bin/env bash
# `make demo`: run one real cell and show what it emitted.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

cat > "$work/spec.json" <<'JSON'
{
  "apiVersion": "cellos.io/v1",
  "kind": "ExecutionCell",
  "spec": {
    "id": "demo-cell-001",
    "correlation": { "correlationId": "demo-1" },
    "authority": { "secretRefs": ["DEMO_TOKEN"] },
    "lifetime": { "ttlSeconds": 60 },
    "run": {
      "argv": ["/bin/sh", "-c",
               "echo \"hello from cell $CELLOS_CELL_ID (hostname $(hostname), pid $$, user $(id -un))\"; echo 'environment:'; env | sort | sed 's/^DEMO_TOKEN=.*/DEMO_TOKEN=<redacted by the demo>/; s/^/  /'; echo \"processes visible: $(ls /proc | grep -c '^[0-9]')\"; echo \"network interfaces: $(ls /sys/class/net | tr '\\n' ' ')\"; touch /usr/x 2>/dev/null || echo 'host tree: read-only'; echo work > /job/out && echo \"workspace /job: writable ($(stat -c %U /job))\"; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"],
      "workingDirectory": "/job",
      "timeoutMs": 10000,
      "secretDelivery": "env",
      "limits": { "memoryMaxBytes": 268435456, "pidsMax": 64 }
    }
  }
}
JSON

echo "== cellos validate"
build/cellos validate "$work/spec.json"
echo
echo "== cellos plan (what will be enforced, abridged)"
CELLOS_DEPLOYMENT_PROFILE=hardened build/cellos plan "$work/spec.json" | grep -vE '^  (bind-ro|symlink|bind-dev)'
echo
echo "== cellos run, hardened profile (workload output follows)"
status=0
CELLOS_DEPLOYMENT_PROFILE=hardened CELLOS_JSONL_SINK_PATH="$work/events.jsonl" \
  CELLOS_SECRET_DEMO_TOKEN="demo-secret" build/cellos run "$work/spec.json" || status=$?
echo "   exit status: $status"
echo
echo "== cellos events (the run's CloudEvents as a timeline)"
build/cellos events "$work/events.jsonl"
echo
echo "== raw first event"
head -n 1 "$work/events.jsonl"
