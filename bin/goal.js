#!/usr/bin/env node
// The `goal` command (compiled from src/cli by npm install / npm run build).
'use strict';
// Sweeps run one network per libuv worker: the pool must be sized before it starts, so here,
// for all cores or the --threads asked, up to twice the cores or 8 (more would only share the
// cores, and libuv aborts the process when a limit on threads refuses one of its pool).
if (!process.env.UV_THREADPOOL_SIZE) {
  const argv = process.argv;
  const at = argv.findIndex((a) => a === '--threads' || a.startsWith('--threads='));
  const asked = at < 0 ? 0 : Number(argv[at].includes('=') ? argv[at].split('=')[1] : argv[at + 1]);
  const cores = require('node:os').availableParallelism();
  const size = Math.max(4, cores, Number.isInteger(asked) ? Math.min(asked, Math.max(8, 2 * cores)) : 0);
  process.env.UV_THREADPOOL_SIZE = String(size);
}
const { main } = require('../dist/src/cli/main.js');

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code || process.exitCode || 0; // a failed write to stdout set it to 1
});
