const tsJest = (tsconfig) => ({ '^.+\\.ts$': ['ts-jest', { tsconfig: `<rootDir>/${tsconfig}` }] });

// Shared by every project. Jest runs a global setup module once per distinct path, so the one
// redis-server of the run is started once whatever the number of projects.
const base = {
  rootDir: __dirname,
  // Node's environment, unref'ing one housekeeping timer of redis-parser (see the file).
  testEnvironment: '<rootDir>/__tests__/helpers/environment.js',
  roots: ['<rootDir>/__tests__'],
  globalSetup: '<rootDir>/__tests__/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/__tests__/helpers/global-teardown.ts',
  // Every supertest request names one host: the key covers the port, and supertest picks a new
  // one per request (see the file).
  moduleNameMapper: { '^supertest$': '<rootDir>/__tests__/helpers/supertest.ts' },
};

/** @type {import('jest').Config} */
module.exports = {
  // Two cores: one worker per core keeps Redis and the app servers from starving each other.
  maxWorkers: 2,
  // Global only: Jest ignores it inside a project.
  testTimeout: 30000,
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/__tests__/decorators/'],
      transform: tsJest('tsconfig.json'),
    },
    // The decorator tests run twice, compiled for each decorator protocol.
    {
      ...base,
      displayName: 'decorators:standard',
      testMatch: ['<rootDir>/__tests__/decorators/**/*.test.ts'],
      transform: tsJest('tsconfig.json'),
      globals: { DECORATOR_MODE: 'standard' },
    },
    {
      ...base,
      displayName: 'decorators:legacy',
      testMatch: ['<rootDir>/__tests__/decorators/**/*.test.ts'],
      transform: tsJest('__tests__/decorators/tsconfig.legacy.json'),
      globals: { DECORATOR_MODE: 'legacy' },
    },
  ],
};
