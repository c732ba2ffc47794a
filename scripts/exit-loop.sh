#!/usr/bin/env bash
# Runs a short CLI training N times (default 200) and counts the runs that did not exit cleanly: the
# check that device teardown at exit never crashes (issue 18: ~1 run in 20 aborted or segfaulted when
# Dawn's instance was collected during its teardown). Usage: bash scripts/exit-loop.sh [N]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=0
for i in $(seq 1 "$runs"); do
  node bin/pcnn.mjs train --width 1 --input-size 32 --synthetic-count 40 --batch 8 --epochs 1 --out "$out/run" \
    >"$out/log" 2>&1
  code=$?
  if [ "$code" -ne 0 ]; then
    failed=$((failed + 1))
    echo "run $i: exit $code" >&2
    tail -n 3 "$out/log" >&2
  fi
  rm -rf "$out/run"
done
echo "exit-loop: $((runs - failed)) of $runs runs exited cleanly"
[ "$failed" -eq 0 ]
