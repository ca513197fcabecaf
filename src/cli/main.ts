/**
 * The `floe` command. Every failure is one line on stderr ("floe: ...") and a non-zero exit:
 * operators and scripts never see a stack trace.
 */
import { backendCommand, backendUsage } from './backend';

const usage = `usage: floe <command> [args]

commands:
  backend <cmd>    the storage engine's offline tools (check, stats, buckets, keys, get, compact, bench)
  help             this text

${backendUsage}`;

/** Entry point used by bin/floe. Sets process.exitCode; never throws. */
export function main(argv: readonly string[]): void {
  // A reader that goes away (`floe backend keys ... | head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    process.stderr.write(`floe: stdout: ${e.message}\n`);
    process.exit(1);
  });
  run(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`floe: ${describe(e)}\n`);
      process.exitCode = 1;
    },
  );
}

async function run(argv: readonly string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(line + '\n');
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'backend':
      return backendCommand(rest, out);
    case 'help':
    case '--help':
    case '-h':
      out(usage);
      return 0;
    default:
      process.stderr.write(usage + '\n');
      return 2;
  }
}

/** One line describing any thrown value. */
function describe(e: unknown): string {
  if (e instanceof Error) {
    const msg = e.message.split('\n')[0];
    return e.name === 'FloeError' ? msg! : `${e.name}: ${msg}`;
  }
  return String(e);
}
