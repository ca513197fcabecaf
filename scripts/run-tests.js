#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's own test runner.
// Usage: node scripts/run-tests.js [substring ...]   (only files whose path contains one of them)
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function collect(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) collect(p, out);
    else if (entry.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const root = path.join(__dirname, '..', 'dist');
const filters = process.argv.slice(2);
const repo = path.join(__dirname, '..');
// Only compiled tests whose source still exists: a moved or deleted test leaves its old .js
// in dist/ (tsc never removes output), and running it would test code that is gone.
const hasSource = (f) => fs.existsSync(path.join(repo, path.relative(root, f)).replace(/\.js$/, '.ts'));
const files = collect(root, [])
  .filter(hasSource)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/ (did tsc run?)');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env: { ...process.env, FLOE_VERIFY: '1' } });
process.exit(r.status === null ? 1 : r.status);
