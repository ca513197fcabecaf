/**
 * Planted bugs: deliberate faults in Floe's guarantees, switched on by the
 * FLOE_PLANTED_BUGS environment variable (comma-separated names) when the process starts.
 * They exist so the robustness suite can prove it catches what it claims to catch (issue 6):
 * a suite that passes a broken server proves nothing. Never set them anywhere else.
 *
 *   follower-read-without-readindex  a follower serves linearizable reads from its own state
 *   drop-watch-event                 every 20th watch event is silently dropped
 *   ack-before-wal-fsync             WAL records are written 0.5 s after raft treats them as
 *                                    durable, so writes are acknowledged before their fsync
 */
import { FloeError } from './errors';

/** The bugs that can be planted. */
export const PLANTED_BUGS = ['follower-read-without-readindex', 'drop-watch-event', 'ack-before-wal-fsync'] as const;
export type PlantedBug = (typeof PLANTED_BUGS)[number];

/** Parses a FLOE_PLANTED_BUGS value; exported for tests. */
export function parsePlantedBugs(spec: string): ReadonlySet<PlantedBug> {
  const out = new Set<PlantedBug>();
  for (const name of spec.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    if (!(PLANTED_BUGS as readonly string[]).includes(name)) {
      throw new FloeError('ERR_BAD_PLANTED_BUG', `unknown planted bug ${JSON.stringify(name)} (known: ${PLANTED_BUGS.join(', ')})`);
    }
    out.add(name as PlantedBug);
  }
  return out;
}

const planted = parsePlantedBugs(process.env.FLOE_PLANTED_BUGS ?? '');

/** True when `name` was planted in this process. */
export function plantedBug(name: PlantedBug): boolean {
  return planted.size !== 0 && planted.has(name);
}
