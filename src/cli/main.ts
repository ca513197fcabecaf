/**
 * The `floe` command. With no command, or with only flags, it runs a member and serves etcd's
 * client API, taking etcd's flags (as `etcd` does; serve.ts). Other commands are named first:
 * `floe backend ...`. Every failure of a command is one line on stderr ("floe: ...") and a
 * non-zero exit: operators and scripts never see a stack trace.
 */
import { backendCommand, backendUsage } from './backend';
import { USAGE } from './etcd-flag-table';
import { serve, type MemberFactory } from './serve';

const usage = `${USAGE}
commands:
  (none)           run a member; etcd's flags and ETCD_* variables (floe --help lists them)
  backend <cmd>    the storage engine's offline tools (check, stats, buckets, keys, get, compact, bench)
  snapshot <cmd>   save, restore and status of backend snapshots, as etcdctl snapshot
  cluster          run a local 3-member cluster on 127.0.0.1 (--size N, --base-port P, --data-dir D)
  help             this text

${backendUsage}`;

/** Commands named by the first argument; anything else is the serve command's flags. */
const COMMANDS = new Set(['backend', 'snapshot', 'cluster', 'help']);

/** Entry point used by bin/floe. Sets process.exitCode; never throws. */
export function main(argv: readonly string[]): void {
  // A reader that goes away (`floe backend keys ... | head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    process.stderr.write(`floe: stdout: ${e.message}\n`);
    process.exit(1);
  });
  if (!COMMANDS.has(argv[0] ?? '')) {
    // Loaded here so that the offline commands do not load the member's layers.
    const startMember: MemberFactory = async (config) => (await import('../server')).startMember(config);
    // A server exits when serve says so, whatever handles are still open.
    serve({
      argv,
      env: process.env,
      stdout: (t) => process.stdout.write(t),
      stderr: (t) => process.stderr.write(t),
      startMember,
      startWarmUpMember: startMember,
    }).then(
      (code) => process.exit(code),
      (e: unknown) => {
        process.stderr.write(`floe: ${describe(e)}\n`);
        process.exit(1);
      },
    );
    return;
  }
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
    case 'snapshot': {
      // Loaded here so that the other commands do not load the snapshot code.
      const { snapshotCommand } = await import('./snapshot');
      return snapshotCommand(rest, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
    }
    case 'cluster': {
      const { runCluster } = await import('./cluster');
      return runCluster(rest, {
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
        onSignal: (h) => {
          process.on('SIGINT', h);
          process.on('SIGTERM', h);
          return () => {
            process.off('SIGINT', h);
            process.off('SIGTERM', h);
          };
        },
      });
    }
    case 'help':
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
