/**
 * Seeded randomness for this folder's randomized tests: src/pkg's Rng. A failing run prints
 * its seed; `FLOE_SEED=<seed>` replays it exactly.
 */
export { Rng, baseSeed, forSeeds } from '../pkg/rng';
