/**
 * TEST ONLY: the serve command in a child process with the member TEST DOUBLE
 * (src/api/test-double.ts) instead of the real member, so process behaviour (flags, log
 * lines, the data-dir lock, signals, draining) is tested on its own. Never used by `floe`.
 *
 *   node test-serve-child.js [etcd flags...]
 *   FLOE_TEST_WRITE_DELAY_MS=N makes every write take N ms.
 *   FLOE_TEST_WARM_UP=1 runs the warm-up (warm-up.ts) on real scratch members.
 */
import { MemberDouble } from '../api/test-double';
import { serve } from './serve';

const writeDelayMs = Number(process.env.FLOE_TEST_WRITE_DELAY_MS ?? 0);

serve({
  argv: process.argv.slice(2),
  env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOE_TEST_'))),
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  startMember: async (config) =>
    new MemberDouble({ maxRequestBytes: config.maxRequestBytes, maxTxnOps: config.maxTxnOps, writeDelayMs }),
  startWarmUpMember: process.env.FLOE_TEST_WARM_UP === '1' ? async (config) => (await import('../server')).startMember(config) : undefined,
}).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`test-serve-child: ${String(e)}\n`);
    process.exit(70);
  },
);
