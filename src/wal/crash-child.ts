/**
 * Test support (not a test file): the process crash.test.ts kills at a WAL failpoint.
 *
 *   node crash-child.js DIR SEGMENT_BYTES LAST BATCH
 *
 * Opens the log in DIR (creating it when absent), then appends entries after the last one it
 * holds, BATCH per save() with hard state {term 1, vote 1, commit = last index}, up to LAST.
 * After each save() resolves it prints `saved <last index>` (a synchronous write, so the line
 * is out before the next save starts). Entry payloads are test-util's entryData, so the
 * parent can check every byte.
 */
import * as fs from 'node:fs';
import { entryData } from './test-util';
import { WAL } from './wal';

async function main(): Promise<void> {
  const [dir, segmentArg, lastArg, batchArg] = process.argv.slice(2);
  const options = { segmentSizeBytes: Number(segmentArg) };
  const last = Number(lastArg);
  const batch = Number(batchArg);
  let w: WAL;
  let next = 1;
  if (await WAL.exists(dir!)) {
    w = await WAL.open(dir!, { index: 0, term: 0 }, options);
    const { entries } = await w.readAll();
    next = entries.length === 0 ? 1 : entries[entries.length - 1]!.index + 1;
  } else {
    w = await WAL.create(dir!, Buffer.from('crash-child'), options);
  }
  while (next <= last) {
    const ents = [];
    for (let i = next; i < next + batch && i <= last; i++) {
      ents.push({ term: 1, index: i, type: 'EntryNormal' as const, data: entryData(i, 1, 60 + (i % 50)) });
    }
    const top = ents[ents.length - 1]!.index;
    await w.save({ term: 1, vote: 1n, commit: top }, ents);
    fs.writeSync(1, `saved ${top}\n`);
    next = top + 1;
  }
  await w.close();
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${String((e as Error).stack ?? e)}\n`);
    process.exit(1);
  });
}
