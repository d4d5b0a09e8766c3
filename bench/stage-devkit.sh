#!/usr/bin/env bash
# Stages .devkit/ (git-ignored) for bench/device-check.sh, which runs on a machine with a GPU but
# without Node.js or npm: a compressed Node binary, and the Node-API headers (node-api-headers,
# node-addon-api) that a rebuild of the addon there would need. Run it here after
# `npm install && npm run build` (they make build/Release and dist/); it checks that the three
# carried paths (build/Release, dist, .devkit) are there and fit the device's 64 MiB limit.
set -euo pipefail
cd "$(dirname "$0")/.."

node_bin=$(command -v node)
mkdir -p .devkit/include/node-api-headers .devkit/include/node-addon-api
if [ ! -f .devkit/node.xz ] || [ "$node_bin" -nt .devkit/node.xz ]; then
  xz -T2 -c "$node_bin" > .devkit/node.xz.part
  mv .devkit/node.xz.part .devkit/node.xz
fi
node --version > .devkit/node-version
cp node_modules/node-api-headers/include/*.h .devkit/include/node-api-headers/
cp node_modules/node-addon-api/napi*.h .devkit/include/node-addon-api/

missing=0
for f in build/Release/goal_snn.node dist/bench/gpu-check.js dist/src/index.js; do
  [ -f "$f" ] || { echo "stage-devkit: $f is missing: run npm install && npm run build" >&2; missing=1; }
done
[ "$missing" = 0 ] || exit 1
node -e "const c = require('./build/Release/goal_snn.node').info().cuda; if (!c.compiled) { console.error('stage-devkit: this addon has no CUDA backend (nvcc was not found at build time)'); process.exit(1); }"

kib=$(du -sk build/Release dist .devkit | awk '{ s += $1 } END { print s }')
echo "stage-devkit: node $(cat .devkit/node-version), carry [\"build/Release\", \"dist\", \".devkit\"]: $((kib / 1024)) MiB"
if [ "$kib" -gt $((64 * 1024)) ]; then
  echo "stage-devkit: more than the 64 MiB the device accepts" >&2
  exit 1
fi
