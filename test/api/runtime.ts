/**
 * One whole local runtime per test file (process.env is global, and vitest forks a process per file):
 * the real HTTP server and handlers on a free port, on its own table in the run's shared DynamoDB Local.
 * The test also gets core services on the same table, to drive spend the way the API of issue 3 will.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startRuntime, type Runtime, type RuntimeOptions } from '../../local/runtime.js';
import { Credits, Lending } from '../../packages/core/src/index.js';
import { DynamoCreditStore } from '../../packages/core/src/adapters/dynamodb/index.js';
import { dynamodbEndpoint, freshTable } from '../setup/table.js';
import { seedDemoWorld, type DemoOptions, type DemoWorld } from '../../local/demo.js';

export interface TestRuntime extends Runtime {
  /** A document client on the runtime's table, for reading (and, in tamper tests, writing) items directly. */
  doc: DynamoDBDocumentClient;
  store: DynamoCreditStore;
  credits: Credits;
  lending: Lending;
  /** The demo world (simulated providers, a funded startup and its key), when asked for. */
  world: DemoWorld | null;
  /**
   * Returns every lease the runtime's holder has (flush, then close): what was spent is then in the ledger.
   * The handlers run in this process, so this is the same holder the requests used.
   */
  drainLeases(): Promise<void>;
}

/**
 * `leases`: whether paid requests draw on credit leases (the default of `npm start` and AWS). Off by default
 * here, so suites that read balances right after a reply see the request settled by its hold; the lease
 * suites turn it on and drain before they read.
 */
export async function startTestRuntime(prefix: string, opts: { scheduler?: boolean; demo?: DemoOptions; tables?: RuntimeOptions['tables']; leases?: boolean } = {}): Promise<TestRuntime> {
  process.env.COMPUX_LEASES = opts.leases ? 'on' : 'off';
  // Likewise SLA samples: written after every reply unless the suite runs the batched paths.
  process.env.COMPUX_SLA_FLUSH_SAMPLES = opts.leases ? '32' : '1';
  const t = await freshTable(prefix);
  let world: DemoWorld | null = null;
  const rt = await startRuntime({
    port: 0,
    dynamodbEndpoint: dynamodbEndpoint(),
    tableName: t.tableName,
    adminKey: `cx_op_test_${randomBytes(16).toString('hex')}`,
    scheduler: opts.scheduler ?? false,
    ...(opts.tables ? { tables: opts.tables } : {}),
    ...(opts.demo ? { seed: async (r: Runtime) => (world = await seedDemoWorld(r, opts.demo)) } : {}),
  });
  const store = new DynamoCreditStore(t.doc, t.tableName);
  const drainLeases = async () => {
    const { deps } = await import('../../functions/lib/deps.js');
    await deps().gateway.drain();
  };
  return Object.assign(rt, { doc: t.doc, store, credits: new Credits(store), lending: new Lending(store), world: world as DemoWorld | null, drainLeases });
}
