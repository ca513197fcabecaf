/**
 * `floe backend <cmd>`: the storage engine's offline tools, modelled on bbolt's own command.
 * Inspection commands open the file read-only, so they never change it; any failure is one
 * line on stderr and a non-zero exit (see main.ts).
 */
import * as fs from 'node:fs';
import { DB, compact, type Bucket, type ReadTx } from '../backend';
import { FloeError } from '../pkg';
import { parseArgs, choiceFlag, type Parsed } from './args';
import { formatBytes, parseBytes, type PrintFormat } from './format';
import { runBackendBench } from './backend-bench';

export const backendUsage = `usage: floe backend <command> [flags]

commands:
  check FILE                 verify every page, key order and the freelist
  stats FILE                 pages by kind, free pages, depth, file size (JSON)
  buckets FILE               top-level bucket names
  keys FILE BUCKET...        keys of a bucket (nested buckets by path)
  get FILE BUCKET... KEY     one value
  compact SRC DST            write a defragmented copy of SRC to DST
  bench --path FILE --count N --value-size B --batch N --freelist array|hashmap [--keep]

flags for keys/get: --format auto|ascii|hex (output), --parse-format ascii|hex (arguments)`;

const inspectFlags = { format: 'string', 'parse-format': 'string' } as const;

type Out = (line: string) => void;

/** Runs one backend subcommand; returns the process exit code. */
export async function backendCommand(argv: readonly string[], out: Out): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'check':
      return check(rest, out);
    case 'stats':
      return withFile(rest, 1, 'stats FILE', (db) => {
        out(JSON.stringify(db.stats()));
        return 0;
      });
    case 'buckets':
      return withFile(rest, 1, 'buckets FILE', (db, _p, print) => {
        db.view((tx) => tx.forEach((name) => out(formatBytes(name, print))));
        return 0;
      });
    case 'keys':
      return withFile(rest, 2, 'keys FILE BUCKET...', (db, p, print) => {
        const path = p.positional.slice(1).map((s) => parseBytes(s, parseFormatOf(p)));
        db.view((tx) => bucketAt(tx, path).forEach((k) => out(formatBytes(k, print))));
        return 0;
      });
    case 'get':
      return withFile(rest, 3, 'get FILE BUCKET... KEY', (db, p, print) => {
        const args = p.positional.slice(1).map((s) => parseBytes(s, parseFormatOf(p)));
        const key = args.pop()!;
        return db.view((tx) => {
          const v = bucketAt(tx, args).get(key);
          if (v === null) throw new FloeError('ERR_KEY_NOT_FOUND', `key not found: ${formatBytes(key, print)}`);
          out(formatBytes(v, print));
          return 0;
        });
      });
    case 'compact': {
      const p = parseArgs(rest, {});
      if (p.positional.length !== 2) throw usageError('compact SRC DST');
      const [src, dst] = p.positional as [string, string];
      mustExist(src);
      if (fs.existsSync(dst)) throw new FloeError('ERR_EXISTS', `${dst}: already exists; refusing to overwrite`);
      compact(src, dst);
      out(`compacted ${src} (${fs.statSync(src).size} bytes) -> ${dst} (${fs.statSync(dst).size} bytes)`);
      return 0;
    }
    case 'bench':
      return runBackendBench(rest, out);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(backendUsage);
      return cmd === undefined ? 2 : 0;
    default:
      throw new FloeError('ERR_BAD_ARG', `unknown backend command: ${cmd} (see floe backend help)`);
  }
}

function usageError(form: string): FloeError {
  return new FloeError('ERR_BAD_ARG', `usage: floe backend ${form}`);
}

function parseFormatOf(p: Parsed) {
  return choiceFlag(p, 'parse-format', ['ascii', 'hex'] as const, 'ascii');
}

function mustExist(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new FloeError('ERR_NO_FILE', `${file}: no such file`);
  }
  if (!st.isFile()) throw new FloeError('ERR_NOT_FILE', `${file}: not a regular file`);
}

/** Opens FILE (the first positional) read-only, runs `fn`, and always closes. */
function withFile(
  argv: readonly string[],
  minArgs: number,
  form: string,
  fn: (db: DB, p: Parsed, print: PrintFormat) => number,
): number {
  const p = parseArgs(argv, inspectFlags);
  if (p.positional.length < minArgs || (minArgs === 1 && p.positional.length !== 1)) throw usageError(form);
  const print = choiceFlag(p, 'format', ['auto', 'ascii', 'hex'] as const, 'auto');
  const db = openReadOnly(p.positional[0]!);
  try {
    return fn(db, p, print);
  } finally {
    db.close();
  }
}

function openReadOnly(file: string): DB {
  mustExist(file);
  try {
    return DB.open(file, { readOnly: true });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new FloeError('ERR_OPEN', `${file}: cannot open as a bbolt file: ${why}`, { cause: e });
  }
}

/** Follows a path of bucket names from the top level. */
function bucketAt(tx: ReadTx, path: readonly Buffer[]): Bucket {
  if (path.length === 0) throw new FloeError('ERR_BAD_ARG', 'a bucket name is required');
  let b = tx.bucket(path[0]!);
  for (let i = 1; b !== null && i < path.length; i++) b = b.bucket(path[i]!);
  if (b === null) throw new FloeError('ERR_BUCKET_NOT_FOUND', 'bucket not found');
  return b;
}

function check(argv: readonly string[], out: Out): number {
  const p = parseArgs(argv, {});
  if (p.positional.length !== 1) throw usageError('check FILE');
  const db = openReadOnly(p.positional[0]!);
  try {
    const problems = db.check();
    for (const line of problems) out(line);
    if (problems.length > 0) {
      throw new FloeError('ERR_CHECK', `${p.positional[0]}: ${problems.length} problem(s) found`);
    }
    out('OK');
    return 0;
  } finally {
    db.close();
  }
}
