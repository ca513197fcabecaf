'use strict';
// profile-summary.js: prints a V8 .cpuprofile by self time (top functions) and by layer
// (node internals, grpc-js, protobufjs, and each src/<layer> of Floe).
// Usage: node bench/profile-summary.js FILE.cpuprofile [TOP]
const fs = require('node:fs');
const prof = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const top = Number(process.argv[3] ?? 30);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
function layerOf(url, name) {
  if (name === '(idle)') return '(idle)';
  if (name === '(garbage collector)') return '(gc)';
  if (name === '(program)') return '(program)';
  if (!url) return '(native)';
  let m = url.match(/node_modules\/(@[^/]+\/[^/]+|[^/]+)/);
  if (m) return m[1];
  m = url.match(/\/src\/([^/]+)\//);
  if (m) return 'floe/' + m[1];
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[1 === 0 ? 0 : 0];
  return url;
}
const fn = new Map(); const layers = new Map(); let total = 0, idle = 0;
for (const [id, us] of selfUs) {
  const n = byId.get(id); const cf = n.callFrame;
  total += us; if (cf.functionName === '(idle)') { idle += us; continue; }
  const key = `${cf.functionName || '(anon)'} ${(cf.url || '').replace(/^.*\/(node_modules|src)\//, '$1/')}:${cf.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const l = layerOf(cf.url, cf.functionName);
  layers.set(l, (layers.get(l) ?? 0) + us);
}
const active = total - idle;
const pct = (us) => (100 * us / active).toFixed(1).padStart(5) + '%';
console.log(`wall ${(total / 1e6).toFixed(2)} s, active ${(active / 1e6).toFixed(2)} s (${(100 * active / total).toFixed(0)}%)`);
console.log('-- by layer (share of active CPU)');
for (const [k, v] of [...layers].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(pct(v), k);
console.log('-- by self time');
for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(pct(v), k);
