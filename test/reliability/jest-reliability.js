// Reliability tests: the built service (`node dist/main.js`) as real
// processes, against a private PostgreSQL cluster the tests start and stop
// (database faults) and a scratch database on the shared server (several
// instances). Build first: `npm run test:reliability` does.
const unit = require('../../jest.config.js');

module.exports = {
  rootDir: __dirname + '/../..',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/reliability/**/*.reliability-spec.ts'],
  transform: unit.transform,
  transformIgnorePatterns: unit.transformIgnorePatterns,
  moduleFileExtensions: unit.moduleFileExtensions,
  // The suites start PostgreSQL clusters and service processes on free
  // ports: one file at a time keeps them from competing (same as --runInBand).
  maxWorkers: 1,
  testTimeout: 90_000,
};
