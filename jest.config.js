// One jest run covers every workspace. Sources are ESM TypeScript, compiled per file by
// ts-jest (type checking is done once by `tsc -b` in `make lint`, not per test file).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/broker', '<rootDir>/operator', '<rootDir>/e2e'],
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  testTimeout: 60000,
  maxWorkers: 2,
};
