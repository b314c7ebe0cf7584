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
               "echo \"hello from cell $CELLOS_CELL_ID (run $CELLOS_RUN_ID)\"; echo \"pid $$, environment:\"; env | sort | sed 's/^DEMO_TOKEN=.*/DEMO_TOKEN=<redacted by the demo>/; s/^/  /'"],
      "timeoutMs": 10000,
      "secretDelivery": "env"
    }
  }
}
JSON

echo "== cellos validate"
build/cellos validate "$work/spec.json"
echo
echo "== cellos run (workload output follows)"
CELLOS_JSONL_SINK_PATH="$work/events.jsonl" CELLOS_SECRET_DEMO_TOKEN="demo-secret" \
  build/cellos run "$work/spec.json"
echo "   exit status: $?"
echo
echo "== cellos events (the run's CloudEvents as a timeline)"
build/cellos events "$work/events.jsonl"
echo
echo "== raw first event"
head -n 1 "$work/events.jsonl"
