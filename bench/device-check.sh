#!/usr/bin/env bash
# The GPU check, run on the device machine (one H200; no Node.js, no npm; nvcc, cmake, ninja).
# Prepare where npm works:  npm install && npm run build && bash bench/stage-devkit.sh
# Then on the device, from the repository root, with build/Release, dist and .devkit carried:
#   bash bench/device-check.sh
# It prints the machine (GPU, driver, compute capability), loads the addon (rebuilding it with
# plain cmake if the one built elsewhere does not load), then runs dist/bench/gpu-check.js:
# every reference fixture and random seeds on GPU and CPU with the max abs/rel differences and
# whether spikes agree, a batch against its networks alone, and the GPU and CPU timings of the
# same run, the parity and the timings each in a process of its own. Everything printed also
# goes to $OUT/device-check.log; the report to $OUT/gpu-report.md (and its halves'
# gpu-report-parity/timing.md and .json). Exit status: 0 all parity cases within
# tolerance and every timing done, 1 a failure, 2 no usable GPU, 3 out of time (the reports hold
# what was done; not 124, which the device tool would read as its own limit). GOAL_REBUILD=1
# rebuilds the addon even if it loads. GOAL_DEADLINE (seconds from the start, default 250; 900
# in a rehearsal) bounds the whole script, rebuild included, to end before the device tool's
# limit (use timeout_s = 300 there). A case that fails or throws is a row marked NO and the run goes on;
# the timings run even then (flagged), and the reports are rewritten after every case; the log
# names each case as it starts; after a kernel fault that leaves the GPU unusable, the later
# cases of that half are marked not run. A case with no result in GOAL_CASE_LIMIT s (default 60)
# is marked HUNG, and a new process goes on after it. A first tiny run tries blocking sync, then
# GOAL_CUDA_SPIN=1 should it hang; hung both ways, the block-path cases are left out and the
# others run. GOAL_REHEARSE=1 rehearses all of it here, the CPU standing in
# (GOAL_REHEARSE_HANG='<case>;<case>' makes those cases hang).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/goal-device-check}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/device-check.log") 2>&1
export PATH="$PATH:/usr/local/cuda/bin"  # nvcc, for a rebuild, where the image leaves it off PATH
step() {
  current_step="$*"
  printf '\n== %s\n' "$*"
}
# Ends the script after tee has written the last lines to the log. A run that ended before
# gpu-check wrote its report still leaves one: the step it was in and the log's end.
current_step=""
finish() {
  echo "device-check: exit $1"
  exec >&- 2>&-
  wait
  if [ ! -s "$OUT/gpu-report.md" ]; then
    { echo "device-check ended with exit $1 in step \"$current_step\", before any report; the log's end:"
      echo; echo '```'; tail -40 "$OUT/device-check.log"; echo '```'; } > "$OUT/gpu-report.md"
  fi
  exit "$1"
}
die() {
  echo "$1"
  finish "${2:-1}"
}

step machine
date -u
uname -srm
nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,clocks.max.sm,power.limit --format=csv ||
  echo "nvidia-smi failed"
GOAL_DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2> /dev/null | head -1)
GOAL_SOURCE=$(cat .devkit/source 2> /dev/null || echo 'unknown (no .devkit/source)')
export GOAL_DRIVER GOAL_SOURCE
echo "source: $GOAL_SOURCE"
# The CUDA its driver supports (a build needs a toolkit of that major version or older).
DRIVER_CUDA=$(nvidia-smi 2> /dev/null | grep -o 'CUDA Version: [0-9.]*' | head -1 | grep -o '[0-9.]*$')
echo "the driver supports CUDA ${DRIVER_CUDA:-?}"
command -v nvcc > /dev/null && nvcc --version | tail -2
nproc

step node
# The carried node (the version the checks were built with) first; a node on PATH otherwise.
NODE=""
if [ -f .devkit/node.xz ]; then
  for dir in /tmp /dev/shm "$PWD/.devkit"; do  # somewhere that lets programs run
    if command -v xz > /dev/null; then
      xz -dc .devkit/node.xz > "$dir/goal-node"
    else
      python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" \
        .devkit/node.xz "$dir/goal-node"
    fi && chmod +x "$dir/goal-node" && "$dir/goal-node" --version > /dev/null 2>&1 && NODE="$dir/goal-node" && break
  done
fi
[ -n "$NODE" ] || NODE=$(command -v node || true)
[ -n "$NODE" ] || die "no node here, and .devkit/node.xz missing or not runnable: run bench/stage-devkit.sh and carry .devkit"
version=$("$NODE" --version) || die "node does not run here"
echo "$NODE $version"

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
# A toolkit of a later major version than the driver's builds an addon that cannot use it.
here=$(nvcc --version 2> /dev/null | grep -o 'release [0-9]*' | grep -o '[0-9]*$')
too_new=0
[ -n "$here" ] && [ -n "$DRIVER_CUDA" ] && [ "$here" -gt "${DRIVER_CUDA%%.*}" ] && too_new=1
if [ "${GOAL_REBUILD:-0}" = 1 ] && [ "$too_new" = 1 ]; then
  echo "GOAL_REBUILD=1, but this machine's nvcc (CUDA $here) is newer than its driver supports (CUDA $DRIVER_CUDA): the addon as carried"
  load || die "the carried addon sees no usable GPU (its reason is above)" 2
elif [ "${GOAL_REBUILD:-0}" = 1 ] || ! load; then
  [ "$too_new" = 1 ] && die "this machine's nvcc (CUDA $here) is newer than its driver supports (CUDA $DRIVER_CUDA): a rebuild here cannot help; carry an addon built with CUDA ${DRIVER_CUDA%%.*}" 2
  echo "rebuilding the addon here with cmake and this machine's nvcc (GOAL_REBUILD=${GOAL_REBUILD:-0})"
  inc="$PWD/.devkit/include"
  cmake -S . -B /tmp/goal-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-DBUILDING_NODE_EXTENSION \
    "-DCMAKE_JS_INC=$inc/node-api-headers;$inc/node-addon-api" \
    "-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=$PWD/build/Release" &&
    cmake --build /tmp/goal-build || die "the rebuild failed"
  load || die "the rebuilt addon still sees no usable GPU (its reason is above)" 2
  export GOAL_ADDON_ORIGIN="rebuilt here ($(nvcc --version 2> /dev/null | grep -o 'release [0-9.]*' || echo 'nvcc ?'))"
fi

step "first run"
# One tiny network on the GPU. Waits for the GPU sleep on an interrupt (blocking sync); should
# that not return on this platform, the rest runs with the runtime's default wait
# (GOAL_CUDA_SPIN=1) rather than hanging until the deadline. A run that fails otherwise (an
# error, not a hang) leaves the cases to gpu-check, whose rows say which paths fail.
probe() {
  timeout -k 5 "$1" "$NODE" -e "
    const backend = process.env.GOAL_REHEARSE === '1' ? 'cpu' : 'cuda';
    require('./dist/src/index').train({ nRec: 150, epochs: [10, 10], seed: 1 }, { backend })
      .then((r) => console.log('first run: ' + r.device + ', ' + r.seconds.toFixed(2) + ' s, GOAL_CUDA_SPIN=' + (process.env.GOAL_CUDA_SPIN || 0)));"
}
probe 30
rc=$?
case "$rc" in
  0) ;;
  124 | 137)
    echo "the first run did not finish in 30 s with blocking sync: trying GOAL_CUDA_SPIN=1"
    export GOAL_CUDA_SPIN=1
    probe 30
    case "$?" in
      0) ;;
      124 | 137)
        echo "THE FIRST RUN HUNG both ways: the block-path cases (N=150 and the fixtures) are left out, the others run"
        unset GOAL_CUDA_SPIN
        export GOAL_SKIP_BLOCK=1 ;;
      *) echo "THE FIRST RUN FAILED with GOAL_CUDA_SPIN=1 (its error above); the cases below say where" ;;
    esac ;;
  *) echo "THE FIRST RUN FAILED (exit $rc, its error above); the cases below say where" ;;
esac

step "parity and benchmarks"
deadline=${GOAL_DEADLINE:-250}
[ "${GOAL_REHEARSE:-0}" = 1 ] && deadline=${GOAL_DEADLINE:-900}  # the CPU standing in is slower
# Each half in its own process: a kernel fault ends a process's CUDA context, and the timings
# should not be lost to a fault in a parity case. Parity may take half of what is left; the
# timings get the rest.
# A case that hangs ends its process (gpu-check writes gpu-report-<half>.hung first): another
# process goes on after it (GOAL_RESUME=1), adding to the same report, while the half has time.
# A case may take GOAL_CASE_LIMIT seconds (gpu-check's default), and never so long that the
# half's own limit ends it first (GOAL_CASE_DEADLINE: that would leave no row saying which case hung).
half() {  # half <name> <seconds>
  local end=$((SECONDS + $2)) resume=0 rc left hung="$OUT/gpu-report-$1.hung"
  rm -f "$hung"
  while :; do
    left=$((end - SECONDS))
    if [ "$left" -lt 20 ]; then
      echo "no time left for the $1 (deadline ${deadline} s, ${SECONDS} s gone)"
      [ "$resume" = 0 ] && return 3
      # A case hung, and took the time of those after it: a failure, not only a lack of time.
      printf '\n**CUT SHORT: no time left after the hung case; any cases after it did not run**\n' >> "$OUT/gpu-report-$1.md"
      return 1
    fi
    GOAL_RESUME=$resume GOAL_CASE_DEADLINE=$(($(date +%s) + left - 15)) timeout -k 10 "$left" "$NODE" dist/bench/gpu-check.js "$OUT" "$1"
    rc=$?
    [ -s "$hung" ] || break
    echo "the $1: $(cat "$hung") hung; a new process goes on after it"
    rm -f "$hung"
    resume=1
  done
  case "$rc" in 124 | 137)
    echo "the $1 ran out of time; $OUT/gpu-report-$1.md and .json hold what was done"
    printf '\n**CUT SHORT: out of time, in "%s"; the cases after it did not run**\n' \
      "$(grep '^running: ' "$OUT/device-check.log" | tail -1 | sed 's/^running: //')" >> "$OUT/gpu-report-$1.md"
    rc=3 ;;
  esac
  return "$rc"
}
half parity $(( (deadline - SECONDS - 25) / 2 ))
parity=$?
GOAL_PARITY_STATUS=$parity half timing $(( deadline - SECONDS - 15 ))
timing=$?
cat "$OUT/gpu-report-parity.md" "$OUT/gpu-report-timing.md" > "$OUT/gpu-report.md" 2> /dev/null
echo "parity: exit $parity, timing: exit $timing; the report: $OUT/gpu-report.md (gpu-report-parity.json, gpu-report-timing.json)"
# 0 when both passed; else 2 (no usable GPU) first, then 3 (out of time), and 1 for any other.
status=0
if [ "$parity" != 0 ] || [ "$timing" != 0 ]; then
  status=1
  for s in 3 2; do if [ "$parity" = "$s" ] || [ "$timing" = "$s" ]; then status=$s; fi; done
fi
finish "$status"
