/**
 * The tests `npm run mutation` runs against each mutant: unit tests and real-Redis tests of the
 * mutated modules (no in-process system: a mutant run must take seconds, not minutes).
 */
const base = require('./jest.config.js');
module.exports = {
  ...base,
  roots: ['<rootDir>/test'],
  globalSetup: undefined,
  testMatch: [
    '<rootDir>/test/unit/crypto.test.ts',
    '<rootDir>/test/unit/password-policy.test.ts',
    '<rootDir>/test/unit/source-key.test.ts',
    '<rootDir>/test/unit/token.test.ts',
    '<rootDir>/test/integration/rate-limits.test.ts',
    '<rootDir>/test/integration/session-store.test.ts',
    '<rootDir>/test/integration/code-and-mail.activities.test.ts',
  ],
  testTimeout: 30_000,
  verbose: false,
};
