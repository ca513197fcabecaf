/**
 * Runs every scenario file in src/raft/testdata through the interaction environment and
 * compares each command's trace with the expected one. FLOE_RAFT_REWRITE=1 writes the actual
 * traces back instead (review the diff before committing it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { normalizeOutput, parseDataDriven, rewriteDataDriven } from './test-datadriven';
import { InteractionEnv } from './test-env';

/** The testdata folder: next to this source file, found from the compiled file or the cwd. */
function testdataDir(): string {
  const candidates = [
    process.env.FLOE_RAFT_TESTDATA,
    path.resolve(__dirname, '../../../src/raft/testdata'),
    path.resolve(process.cwd(), 'src/raft/testdata'),
    path.resolve(__dirname, 'testdata'),
  ];
  for (const c of candidates) if (c !== undefined && fs.existsSync(c)) return c;
  throw new Error(`raft testdata not found (tried ${candidates.filter(Boolean).join(', ')})`);
}

const dir = testdataDir();
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
const rewrite = process.env.FLOE_RAFT_REWRITE === '1';

test('scenario files exist', () => {
  assert.ok(files.length > 0, `no scenario files in ${dir}`);
});

for (const file of files) {
  test(`scenario ${file}`, () => {
    const full = path.join(dir, file);
    const text = fs.readFileSync(full, 'utf8');
    const parsed = parseDataDriven(text, file);
    const env = new InteractionEnv();
    const outputs: string[] = [];
    for (const tc of parsed.cases) {
      const actual = normalizeOutput(env.handle(tc));
      outputs.push(actual);
      if (!rewrite) {
        assert.equal(actual, tc.expected, `${file}:${tc.line}: ${tc.cmd} trace differs`);
      }
    }
    if (rewrite) fs.writeFileSync(full, rewriteDataDriven(text, parsed, outputs));
  });
}
