// End-to-end tests: the real AppModule over real HTTP on a real PostgreSQL
// (DATABASE_URL when set, otherwise an embedded PGlite started in globalSetup).
const unit = require('../jest.config.js');

module.exports = {
  rootDir: __dirname + '/..',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
  transform: unit.transform,
  transformIgnorePatterns: unit.transformIgnorePatterns,
  moduleFileExtensions: unit.moduleFileExtensions,
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60_000,
};
