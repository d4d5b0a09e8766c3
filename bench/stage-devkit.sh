#!/usr/bin/env bash
# Stages .devkit/ (git-ignored) for bench/device-check.sh, which runs on a machine with a GPU but
# without Node.js or npm: a compressed Node binary, and the Node-API headers (node-api-headers,
# node-addon-api) that a rebuild of the addon there would need. Run it here after
# `npm install && npm run build` (they make build/Release and dist/); it brings the addon up to
# date with native/ (an incremental build: `npm run build` compiles only the TypeScript), names
# the commit in .devkit/source, and checks that the three carried paths (build/Release, dist,
# .devkit) are there and fit the device's 64 MiB limit.
set -euo pipefail
cd "$(dirname "$0")/.."

# A stale addon would be measured as if it were this commit's.
node native/install.js

node_bin=$(node -p process.execPath)  # the binary itself, not a version manager's shim
mkdir -p .devkit/include/node-api-headers .devkit/include/node-addon-api
echo "$(git rev-parse --short HEAD 2> /dev/null || echo 'no git')$( [ -n "$(git status --porcelain --untracked-files=no 2> /dev/null)" ] && echo ' with uncommitted changes')" > .devkit/source.part
if [ ! -f .devkit/node.xz ] || [ "$node_bin" -nt .devkit/node.xz ]; then
  xz -T2 -c "$node_bin" > .devkit/node.xz.part
  mv .devkit/node.xz.part .devkit/node.xz
fi
node --version > .devkit/node-version
mv .devkit/source.part .devkit/source
cp node_modules/node-api-headers/include/*.h .devkit/include/node-api-headers/
cp node_modules/node-addon-api/napi*.h .devkit/include/node-addon-api/

missing=0
for f in build/Release/goal_snn.node dist/bench/gpu-check.js dist/src/index.js; do
  [ -f "$f" ] || { echo "stage-devkit: $f is missing: run npm install && npm run build" >&2; missing=1; }
done
[ "$missing" = 0 ] || exit 1
node -e "const c = require('./build/Release/goal_snn.node').info().cuda; if (!c.compiled) { console.error('stage-devkit: this addon has no CUDA backend (nvcc was not found at build time)'); process.exit(1); }"

kib=$(du -sk build/Release dist .devkit | awk '{ s += $1 } END { print s }')
echo "stage-devkit: $(cat .devkit/source), node $(cat .devkit/node-version), carry [\"build/Release\", \"dist\", \".devkit\"]: $((kib / 1024)) MiB"
if [ "$kib" -gt $((64 * 1024)) ]; then
  echo "stage-devkit: more than the 64 MiB the device accepts" >&2
  exit 1
fi
