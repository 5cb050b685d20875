// Unit tests: pure logic beside the code (src/**/*.spec.ts).
// NestJS 12 ships ESM only and Jest 30 cannot require() ESM on Node 20, so
// @swc/jest compiles those packages to CommonJS too (see STACK-NOTES).
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];

const esmPackages = [
  '@nestjs',
  'uid',
  'file-type',
  'load-esm',
  'strtok3',
  'token-types',
  '@tokenizer',
  '@borewit',
  'uint8array-extras',
  'structured-headers',
  'web-bot-auth',
  'http-message-sig',
  'jsonwebkey-thumbprint',
  'lru-cache',
];

module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  transform: { '^.+\\.(t|j|mj|cj)s$': swc },
  transformIgnorePatterns: [`node_modules/(?!(${esmPackages.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
};
