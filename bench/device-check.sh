#!/usr/bin/env bash
# The GPU check, run on the device machine (one H200; no Node.js, no npm; nvcc, cmake, ninja).
# Prepare where npm works:  npm install && npm run build && bash bench/stage-devkit.sh
# Then on the device, from the repository root, with build/Release, dist and .devkit carried:
#   bash bench/device-check.sh
# It prints the machine (GPU, driver, compute capability), loads the addon (rebuilding it with
# plain cmake if the one built elsewhere does not load), then runs dist/bench/gpu-check.js:
# every reference fixture and random seeds on GPU and CPU with the max abs/rel differences and
# whether spikes agree, a batch against its networks alone, and the GPU and CPU timings of the
# same run. Everything printed also goes to $OUT/device-check.log; the report to
# $OUT/gpu-report.md and $OUT/gpu-report.json. Exit status: 0 all parity cases within
# tolerance, 1 a failure, 2 no usable GPU. GOAL_REBUILD=1 rebuilds the addon even if it loads;
# GOAL_CHECK_TIMEOUT (seconds, default 360) bounds the node part, to end before the device
# tool's own limit (use timeout_s ≥ 420 there). A case that fails or throws is a row marked NO
# and the run goes on; the timings run even then (flagged), and both reports are rewritten
# after every case. GOAL_REHEARSE=1 rehearses all of it here, the CPU standing in for the GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/goal-device-check}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/device-check.log") 2>&1
step() { printf '\n== %s\n' "$*"; }

step machine
date -u
uname -srm
nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,clocks.max.sm,power.limit --format=csv ||
  echo "nvidia-smi failed"
command -v nvcc > /dev/null && nvcc --version | tail -2
nproc

step node
NODE=$(command -v node || true)
if [ -z "$NODE" ]; then
  [ -f .devkit/node.xz ] || { echo "no node here and no .devkit/node.xz: run bench/stage-devkit.sh and carry .devkit"; exit 1; }
  xz -dc .devkit/node.xz > /tmp/goal-node && chmod +x /tmp/goal-node && NODE=/tmp/goal-node
fi
"$NODE" --version || { echo "node does not run here"; exit 1; }

step addon
# Loads the addon and prints what it sees; fails also when it loads but finds no usable GPU
# while nvidia-smi does (e.g. a driver older than the CUDA runtime linked in elsewhere).
load() {
  "$NODE" -e "
    const i = require('./build/Release/goal_snn.node').info();
    console.log(JSON.stringify(i, null, 1));
    if (!i.cuda.available && process.env.GPU_SEEN === '1') { console.log('the addon sees no usable GPU: ' + i.cuda.reason); process.exit(1); }"
}
GPU_SEEN=0
nvidia-smi > /dev/null 2>&1 && GPU_SEEN=1
[ "${GOAL_REHEARSE:-0}" = 1 ] && GPU_SEEN=0
export GPU_SEEN
if [ "${GOAL_REBUILD:-0}" = 1 ] || ! load; then
  echo "rebuilding the addon here with cmake and this machine's nvcc (GOAL_REBUILD=${GOAL_REBUILD:-0})"
  inc="$PWD/.devkit/include"
  cmake -S . -B /tmp/goal-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-DBUILDING_NODE_EXTENSION \
    "-DCMAKE_JS_INC=$inc/node-api-headers;$inc/node-addon-api" \
    "-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=$PWD/build/Release" &&
    cmake --build /tmp/goal-build &&
    load || { echo "the rebuild failed"; exit 1; }
fi

step "parity and benchmarks"
timeout -k 15 "${GOAL_CHECK_TIMEOUT:-360}" "$NODE" dist/bench/gpu-check.js "$OUT"
status=$?
case "$status" in 124 | 137) echo "gpu-check ran out of time; $OUT/gpu-report.md and gpu-report.json hold what was done" ;; esac
echo "device-check: exit $status"
exec >&- 2>&-  # let tee write the last lines to the log before the script ends
wait
exit "$status"
