/**
 * Child process for crash.test.ts: runs a member on argv[2] and writes under load, printing
 * `ack <key> <revision>` for each acknowledged put, until the parent kills it (bounded by
 * argv[3] puts in all, so a forgotten child stops by itself).
 */
import { openMember, putReq } from './test-util';

async function main(): Promise<void> {
  const dir = process.argv[2] as string;
  const maxPuts = Number(process.argv[3] ?? '5000');
  const m = await openMember(dir);
  process.stdout.write('ready\n');
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < maxPuts) {
      const key = `crash${next++}`;
      const r = await m.put(putReq(key, `v-${key}`));
      process.stdout.write(`ack ${key} ${String(r.header.revision)}\n`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await m.close();
}

void main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
