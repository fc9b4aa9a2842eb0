/**
 * `npm start`: CompuX on this machine (see docs/local-runtime.md).
 *
 *   npm start                      data kept in ./.compux-data/, API on http://127.0.0.1:3000
 *   npm start -- --in-memory       nothing kept (also COMPUX_IN_MEMORY=1)
 *   COMPUX_DATA_DIR=/tmp/x npm start   data kept in another folder
 *   PORT=8080 npm start            another port
 *   COMPUX_ADMIN_KEY=... npm start the operator key to accept (else one is generated and printed)
 *   npm start -- --no-history      the demo world without its seven weeks of past traffic (a faster first start)
 *   npm start -- --no-seed         no demo world (by default: three simulated providers, a lender, a funded startup and its key)
 *   COMPUX_NOW=2027-12-31T23:59:00Z npm start   the marketplace's clock starts at that instant (packages/core/src/clock.ts)
 *   COMPUX_HOLD_TTL_S=30 npm start  holds expire after 30 s (5–3600, default 600): a crash's holds come back sooner
 *
 * SIGINT / SIGTERM stop everything that was started (DynamoDB Local's java process included), then exit.
 */
import { startRuntime, type Runtime } from '../local/runtime.js';
import { buildWeb } from './build-web.js';
import { seedDemoWorld, type DemoWorld } from '../local/demo.js';
import { clockOffsetMs, nowIso } from '../packages/core/src/clock.js';

const USAGE = `usage: npm start [-- --in-memory] [-- --no-seed] [-- --no-history]
  --in-memory   keep DynamoDB data in memory only (default: ./.compux-data/)
  --no-history  seed the demo world without its seven weeks of past traffic and last month's settlement
  --no-seed     do not seed the demo world (simulated providers, lender, funded startup, key)
env: PORT (default 3000), HOST (default 127.0.0.1), COMPUX_ADMIN_KEY, COMPUX_IN_MEMORY=1, COMPUX_DATA_DIR (default ./.compux-data), COMPUX_NOW (an ISO instant: the clock starts there), COMPUX_HOLD_TTL_S (a hold's expiry, 5–3600 s, default 600), COMPUX_RELAY_PUBLISH_LEAD_S (a rotated relay key's publish lead, 0–3600 s, default 420)`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  for (const a of args) {
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      return;
    }
    if (a !== '--in-memory' && a !== '--no-seed' && a !== '--no-history') {
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

  const seed = !args.includes('--no-seed');
  let world: DemoWorld | undefined;
  // The dashboards are served from web/dist at the API's origin: build them first (a second or two).
  await buildWeb();
  rt = await startRuntime({
    inMemory,
    ...(process.env.COMPUX_DATA_DIR ? { dataDir: process.env.COMPUX_DATA_DIR } : {}),
    ...(process.env.HOST ? { host: process.env.HOST } : {}),
    ...(seed ? { seed: async (r: Runtime) => (world = await seedDemoWorld(r, { history: !args.includes('--no-history'), blocks: true, simulator: { ttftMs: 120, tokensPerSecond: 60, completionTokens: { min: 20, max: 80 } } })) } : {}),
  });
  if (stopping) return; // a signal arrived while starting; shutdown() is already stopping it

  console.log(`CompuX is running at ${rt.baseUrl}`);
  console.log(`  data:         ${rt.dataDir ?? 'in memory (lost on stop)'}`);
  if (clockOffsetMs() !== 0) console.log(`  clock:        ${nowIso()} (COMPUX_NOW; it advances from there)`);
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
  if (world) {
    console.log('\nDemo world:');
    for (const p of world.providers) {
      const key = world.providerSecrets.get(p.id)?.key;
      console.log(`  provider      ${p.id}  ${p.name}  ${p.models.map((m) => m.model).join(', ')}  → ${p.endpoints[0]?.url}${key ? `\n                key ${key}` : ''}`);
    }
    console.log(`  lender        ${world.lenderId}${world.lenderKey ? `  key ${world.lenderKey}` : ' (kept from an earlier run)'}`);
    console.log(`  startup       ${world.startupId}  facility ${world.facilityId}`);
    console.log(`\n  Startup key (made for this run):\n  ${world.startupKey}\n`);
    console.log('  Try it:');
    console.log(`  curl -s ${rt.baseUrl}/v1/chat/completions -H "Authorization: Bearer ${world.startupKey}" -H 'content-type: application/json' \\`);
    console.log(`    -d '{"model":"llama-3.1-70b-instruct","max_tokens":50,"messages":[{"role":"user","content":"Hello"}]}'`);
    console.log(`  or the openai client with baseURL ${rt.baseUrl}/v1\n`);
  }
  console.log(`Dashboards: ${rt.baseUrl}/  (sign in with the operator, lender, provider or startup key above)`);
  console.log('Press Ctrl-C to stop.');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
