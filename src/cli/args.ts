/**
 * A small, strict command-line parser: `--name value`, `--name=value` and boolean `--flag`.
 * Unknown flags and missing values are errors (FloeError ERR_BAD_FLAG) worded as etcd words
 * them, so every command of `floe` fails the same way on bad input.
 */
import { FloeError } from '../pkg';

export interface FlagSpec {
  /** 'string' flags take a value; 'bool' flags take none (or =true/=false). */
  readonly [name: string]: 'string' | 'bool';
}

export interface Parsed {
  readonly flags: Map<string, string>;
  readonly positional: string[];
}

/** Parses `argv` against `spec`; positional arguments keep their order. */
export function parseArgs(argv: readonly string[], spec: FlagSpec): Parsed {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const kind = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (kind === undefined) throw new FloeError('ERR_BAD_FLAG', `unknown flag: --${name}`);
    if (kind === 'bool') {
      const v = eq < 0 ? 'true' : body.slice(eq + 1);
      if (v !== 'true' && v !== 'false') {
        throw new FloeError('ERR_BAD_FLAG', `invalid boolean value "${v}" for --${name}`);
      }
      flags.set(name, v);
      continue;
    }
    let v: string | undefined;
    if (eq >= 0) v = body.slice(eq + 1);
    else v = argv[++i];
    if (v === undefined) throw new FloeError('ERR_BAD_FLAG', `flag needs an argument: --${name}`);
    flags.set(name, v);
  }
  return { flags, positional };
}

/** Reads a non-negative integer flag within [min, max]; `def` when absent. */
export function intFlag(p: Parsed, name: string, def: number, min: number, max: number): number {
  const raw = p.flags.get(name);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw)) throw new FloeError('ERR_BAD_FLAG', `invalid value "${raw}" for --${name}: not a non-negative integer`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new FloeError('ERR_BAD_FLAG', `invalid value "${raw}" for --${name}: must be between ${min} and ${max}`);
  }
  return n;
}

/** Reads a flag whose value must be one of `choices`; `def` when absent. */
export function choiceFlag<T extends string>(p: Parsed, name: string, choices: readonly T[], def: T): T {
  const raw = p.flags.get(name);
  if (raw === undefined) return def;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new FloeError('ERR_BAD_FLAG', `invalid value "${raw}" for --${name}: must be one of ${choices.join(', ')}`);
  }
  return raw as T;
}
