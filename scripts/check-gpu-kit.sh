#!/usr/bin/env bash
# Checks the GPU kit as a bare machine would see it: builds it, copies it elsewhere and removes the
# original, then runs `run.sh RESULTS --tests-only` from outside the repository, in a clean environment
# whose PATH holds only the few tools run.sh uses (no node: the kit must use its own), no node_modules
# above it and no NODE_PATH. Passes when the kit's test suite passes on this machine's adapter (lavapipe
# here). Prints the kit's size and how long the run took. Usage: bash scripts/check-gpu-kit.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d /tmp/gpu-kit-check.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT

node "$repo/scripts/gpu-kit.mjs" "$scratch/built"
mkdir -p "$scratch/elsewhere" "$scratch/tools" "$scratch/home" "$scratch/tmp"
cp -a "$scratch/built" "$scratch/elsewhere/kit"
rm -rf "$scratch/built"
kit_bytes="$(du -sb "$scratch/elsewhere/kit" | cut -f1)"

# What run.sh itself calls; the machines with GPUs have these (bash, gzip, coreutils, grep).
for tool in bash gzip mktemp tee ls grep tr rm mkdir chmod dirname cat; do
  ln -s "$(command -v "$tool")" "$scratch/tools/$tool"
done
clean_env=(env -i "PATH=$scratch/tools" "HOME=$scratch/home" "TMPDIR=$scratch/tmp")
if "${clean_env[@]}" bash -c 'command -v node' >/dev/null; then
  echo "check-gpu-kit: node is reachable on the clean PATH; the check would not show that the kit uses its own" >&2
  exit 1
fi
for dir in "$scratch/elsewhere" "$scratch" /tmp /; do
  if [ -e "$dir/node_modules" ]; then
    echo "check-gpu-kit: $dir/node_modules exists: the kit's bundles could resolve packages from it" >&2
    exit 1
  fi
done

# lavapipe runs the suite far slower than a GPU: stretch the kit's stage limits.
start=$SECONDS
cd "$scratch/elsewhere"
status=0
"${clean_env[@]}" "GPU_KIT_TIMEOUT_SCALE=${GPU_KIT_TIMEOUT_SCALE:-10}" bash kit/run.sh results --tests-only || status=$?
elapsed=$((SECONDS - start))
kit_mib="$(awk "BEGIN { printf \"%.1f\", $kit_bytes / 1048576 }")"
if [ ! -s results/results.json ] || [ ! -s results/log.txt ]; then
  echo "check-gpu-kit: FAILED: run.sh wrote no results.json or log.txt (exit $status)" >&2
  exit 1
fi
if [ "$status" -ne 0 ] || ! grep -q '"ok": true' results/results.json; then
  echo "check-gpu-kit: FAILED: run.sh --tests-only exited $status after ${elapsed} s; kit ${kit_mib} MiB" >&2
  exit 1
fi
echo "check-gpu-kit: passed: run.sh --tests-only took ${elapsed} s here; kit ${kit_mib} MiB"
