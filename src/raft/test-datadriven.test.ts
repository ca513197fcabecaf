import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDataDriven, rewriteDataDriven } from './test-datadriven';

const FILE = `# leading comment

cmd-a 1 key=val list=(1 2 3) other=(4,5)
input line
----
out 1
out 2

# between
cmd-b
----
----
with

blank
----
----
cmd-c
----
ok
# trailing
`;

test('scenario files parse into commands, arguments, input and expected output', () => {
  const p = parseDataDriven(FILE, 'f');
  assert.equal(p.cases.length, 3);
  const [a, b, c] = p.cases;
  assert.equal(a!.cmd, 'cmd-a');
  assert.equal(a!.line, 3);
  assert.deepEqual(a!.args, [
    { key: '1', vals: [] },
    { key: 'key', vals: ['val'] },
    { key: 'list', vals: ['1', '2', '3'] },
    { key: 'other', vals: ['4', '5'] },
  ]);
  assert.equal(a!.input, 'input line');
  assert.equal(a!.expected, 'out 1\nout 2');
  assert.equal(b!.expected, 'with\n\nblank', 'the doubled separator keeps blank lines');
  assert.deepEqual(b!.preamble, ['', '# between']);
  assert.equal(c!.expected, 'ok\n# trailing', 'a single-form output runs to the next blank line');
  assert.throws(() => parseDataDriven('cmd\nno separator\n', 'f'), /missing ----/);
});

test('rewriting with the expected outputs reproduces the file; new outputs pick the right form', () => {
  const p = parseDataDriven(FILE, 'f');
  assert.equal(rewriteDataDriven(FILE, p, p.cases.map((c) => c.expected)), FILE);
  const out = rewriteDataDriven(FILE, p, ['x', 'y', 'one\n\ntwo']);
  const again = parseDataDriven(out, 'f');
  assert.deepEqual(
    again.cases.map((c) => c.expected),
    ['x', 'y', 'one\n\ntwo'],
  );
});
