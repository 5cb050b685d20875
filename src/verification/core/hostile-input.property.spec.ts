import { FUZZ_SEED } from '../../../test/support/hostile-arbitraries';
import { UNIT_PROPERTIES } from '../../../test/support/hostile-properties';
import type { UnitProperty } from '../../../test/support/hostile-properties';

/**
 * Issue 7, hostile input: the pure parsers and checks of the verification
 * core either return or throw a DomainError whose code is in the status
 * table, whatever they are given. The properties live in
 * test/support/hostile-properties.ts so scripts/fuzz.ts runs the very same
 * ones with more cases; here they run a few thousand cases in all with a
 * fixed seed, so a failure names a counterexample that reproduces.
 */
describe('hostile input to the verification core (property-based)', () => {
  const byName = new Map<string, UnitProperty>(UNIT_PROPERTIES.map((p) => [p.name, p]));
  const run = (name: string): void => {
    const property = byName.get(name);
    if (!property) throw new Error(`no property named ${name}`);
    property.check({ seed: FUZZ_SEED, numRuns: property.suiteRuns });
  };

  it('covers every shared property', () => {
    expect(UNIT_PROPERTIES.length).toBe(9);
    expect(UNIT_PROPERTIES.reduce((sum, p) => sum + p.suiteRuns, 0)).toBeGreaterThanOrEqual(3_000);
  });

  it.each(UNIT_PROPERTIES.map((p) => p.name))('%s', (name) => {
    run(name);
  });
});
