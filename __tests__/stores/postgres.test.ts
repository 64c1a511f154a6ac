import { Pool } from 'pg';
import { PostgresStore } from '../../lib';
import { testPostgresTable, testPostgresUrl } from '../helpers/postgres-server';
import { runStoreContract } from './contract';

const pools: Pool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
});

function sharedPool(): Pool {
  const pool = new Pool({ connectionString: testPostgresUrl(), max: 10 });
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

runStoreContract('PostgresStore (caller-owned pool)', async () => {
  const store = new PostgresStore({ pool: sharedPool(), table: testPostgresTable(), operationTimeoutMs: 5_000 });
  await store.ready();
  return store;
});
