/**
 * `npm start`: CompuX on this machine (see docs/local-runtime.md).
 *
 *   npm start                      data kept in ./.compux-data/, API on http://127.0.0.1:3000
 *   npm start -- --in-memory       nothing kept (also COMPUX_IN_MEMORY=1)
 *   PORT=8080 npm start            another port
 *   COMPUX_ADMIN_KEY=... npm start the operator key to accept (else one is generated and printed)
 *
 * SIGINT / SIGTERM stop everything that was started (DynamoDB Local's java process included), then exit.
 */
import { startRuntime, type Runtime } from '../local/runtime.js';

const USAGE = `usage: npm start [-- --in-memory]
  --in-memory   keep DynamoDB data in memory only (default: ./.compux-data/)
env: PORT (default 3000), HOST (default 127.0.0.1), COMPUX_ADMIN_KEY, COMPUX_IN_MEMORY=1`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  for (const a of args) {
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      return;
    }
    if (a !== '--in-memory') {
      console.error(`unknown argument ${a}\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
  }
  const inMemory = args.includes('--in-memory') || process.env.COMPUX_IN_MEMORY === '1';

  let rt: Runtime | undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      console.error(`\n${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    void (rt?.stop() ?? Promise.resolve()).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  rt = await startRuntime({ inMemory, ...(process.env.HOST ? { host: process.env.HOST } : {}) });
  if (stopping) return; // a signal arrived while starting; shutdown() is already stopping it

  console.log(`CompuX is running at ${rt.baseUrl}`);
  console.log(`  data:         ${rt.dataDir ?? 'in memory (lost on stop)'}`);
  console.log(`  table:        ${rt.tableName}`);
  console.log(`  DynamoDB:     ${rt.endpoints.dynamodb}`);
  console.log(`  SQS:          ${rt.endpoints.sqs}`);
  console.log(`  Step Fns:     ${rt.endpoints.sfn}`);
  const fires = rt.scheduler?.nextFires() ?? {};
  for (const [name, at] of Object.entries(fires)) console.log(`  schedule:     ${name} next at ${at.toISOString()}`);
  if (rt.adminKeyGenerated) {
    console.log(`\n  Operator key (generated for this run; set COMPUX_ADMIN_KEY to choose one):\n  ${rt.adminKey}\n`);
  } else {
    console.log('  operator key: from COMPUX_ADMIN_KEY');
  }
  console.log('Press Ctrl-C to stop.');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
