#!/usr/bin/env bash
# The GPU kit's entry point (built by `npm run gpu-kit -- DIR`), for a bare Linux x86-64 machine with a
# GPU and nothing installed: bash DIR/run.sh RESULTS [--tests-only]
# Prints the adapter, runs the kernel test suite (the variants the tuning picks and every forced one),
# then, unless --tests-only, the quick bench (with the matmul ceiling) and PCNN training steps at
# 48 px / width 16 / batch 64 and 224 px / width 64 / batch 32. Writes RESULTS/results.json and
# RESULTS/log.txt; exits 0 only when every stage passed. Needs only bash, gzip and coreutils.
# The Vulkan driver: the one VK_DRIVER_FILES names, else NVIDIA's where those machines keep it, else the
# system's (lavapipe, here); the kit's own Vulkan loader (Debian's libvulkan1) is always used.
set -euo pipefail
kit="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: bash $0 RESULTS [--tests-only]" >&2
  exit 2
fi
mkdir -p "$1"
results="$(cd "$1" && pwd)"
shift
: >"$results/log.txt"
exec > >(tee -a "$results/log.txt") 2>&1
tee_pid=$!

# Node and dawn.node travel gzipped; unpacked where there is room for 120 MB, removed on exit.
work="$(mktemp -d "${TMPDIR:-/tmp}/gpu-kit.XXXXXX")"
trap 'rm -rf "$work"' EXIT
gzip -dc "$kit/bin/node.gz" >"$work/node"
gzip -dc "$kit/bin/dawn.node.gz" >"$work/dawn.node"
chmod +x "$work/node"
export PCNN_DAWN_NODE="$work/dawn.node"

export LD_LIBRARY_PATH="$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# NVIDIA's ICD names its library without a path; where the driver is mounted outside ld.so's search
# path (/usr/local/nvidia on those machines), the loader finds it only through LD_LIBRARY_PATH.
for nvidia_lib in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  if [ -d "$nvidia_lib" ]; then export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$nvidia_lib"; fi
done
if ! "$work/node" --version >/dev/null 2>&1; then
  # The machine's libstdc++ is missing or older than Node's: take Debian's, carried for this case.
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$kit/lib-fallback"
  echo "gpu-kit: Node did not start with this machine's libraries; using the kit's libstdc++ (lib-fallback)"
  "$work/node" --version >/dev/null || { echo "gpu-kit: the kit's Node does not start on this machine" >&2; exit 1; }
fi

nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -n "${VK_DRIVER_FILES:-}" ]; then
  icd="$VK_DRIVER_FILES (named by VK_DRIVER_FILES)"
elif [ -n "${VK_ICD_FILENAMES:-}" ]; then
  icd="$VK_ICD_FILENAMES (named by VK_ICD_FILENAMES)"
elif [ -f "$nvidia_icd" ]; then
  export VK_DRIVER_FILES="$nvidia_icd"
  icd="$nvidia_icd (NVIDIA's)"
else
  system_icds="$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ' || true)"
  icd="the system's: ${system_icds:-none found in /usr/share, /etc, /usr/local/share vulkan/icd.d}"
fi
export PCNN_KIT_ICD="$icd"
echo "gpu-kit: Vulkan loader $(ls "$kit/lib" | grep -m1 'libvulkan.so.1\.'), driver $icd"

# The stages' exit status is the kit's; the EXIT trap still removes the unpacked binaries.
status=0
"$work/node" "$kit/main.mjs" "$results" "$@" || status=$?
# tee may still be writing the last lines: close its input and let it finish before exiting.
exec >&- 2>&-
wait "$tee_pid" || true
exit "$status"
