'use strict';
// profile-inclusive.js: inclusive share of active CPU of each function named on the command
// line (matched as "name" or "name@file-substring"), and the top functions by inclusive time.
// Usage: node bench/profile-inclusive.js FILE.cpuprofile [TOP]
const fs = require('node:fs');
const prof = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const top = Number(process.argv[3] ?? 40);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map();
for (let i = 0; i < prof.samples.length; i++) selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
const incl = new Map(); let active = 0;
for (const [id, us] of selfUs) {
  if (byId.get(id).callFrame.functionName === '(idle)') continue;
  active += us;
  const seen = new Set();
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const cf = byId.get(x).callFrame;
    const key = `${cf.functionName || '(anon)'} ${(cf.url || '').replace(/^.*\/(node_modules|src)\//, '$1/')}:${cf.lineNumber + 1}`;
    if (seen.has(key)) continue; seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + us);
  }
}
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log((100 * v / active).toFixed(1).padStart(5) + '%', k);
