#!/usr/bin/env node
// The `goal` command (compiled from src/cli by npm install / npm run build).
'use strict';
// Sweeps run one network per libuv worker: give the pool a thread per core before it starts.
if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(Math.max(4, require('node:os').availableParallelism()));
}
const { main } = require('../dist/src/cli/main.js');

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code || process.exitCode || 0; // a failed write to stdout set it to 1
});
