#!/usr/bin/env node
// The `goal` command (compiled from src/cli by npm install / npm run build).
'use strict';
const { main } = require('../dist/src/cli/main.js');

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
