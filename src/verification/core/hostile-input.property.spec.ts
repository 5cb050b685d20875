import { FUZZ_SEED } from '../../../test/support/hostile-arbitraries';
import { UNIT_PROPERTIES } from '../../../test/support/hostile-properties';

/**
 * Issue 7, hostile input: the pure parsers and checks of the verification
 * core either return or throw a DomainError whose code is in the status
 * table, whatever they are given. The properties live in
 * test/support/hostile-properties.ts so scripts/fuzz.ts runs the very same
 * ones with more cases; here they run a few thousand cases in all with a
 * fixed seed, so a failure names a counterexample that reproduces.
 */
describe('hostile input to the verification core (property-based)', () => {
  it('runs a few thousand cases in all', () => {
    expect(UNIT_PROPERTIES.reduce((sum, p) => sum + p.suiteRuns, 0)).toBeGreaterThanOrEqual(3_000);
  });

  // fc.assert throws with the counterexample, seed and path when a case fails.
  it.each(UNIT_PROPERTIES.map((p) => [p.name, p] as const))('%s', (_name, property) => {
    property.check({ seed: FUZZ_SEED, numRuns: property.suiteRuns });
  });
});
