/**
 * The provider simulator from the command line, for manual use:
 *
 *   node --import tsx packages/simulator/src/cli.ts --port 8101 --tps 80 --ttft-ms 150
 *
 * Ctrl-C (or SIGTERM) stops it and prints its stats. --help lists the flags.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startSimulator } from './server.js';
import type { SimModel, SimulatorOptions } from './options.js';

const HELP = `compux provider simulator — an OpenAI-compatible server playing a GPU provider

  --host <addr>                 listen address (default 127.0.0.1)
  --port <n>                    port (default 0: a free one)
  --ttft-ms <ms>                time to first token (default 0)
  --tps <n|inf>                 tokens per second per choice (default inf: no pacing)
  --tokens-per-frame <n>        content tokens per streamed frame (default 1)
  --completion-tokens <n|a-b>   natural reply length, or a range picked per prompt (default 16)
  --max-tokens-per-reply <n>    hard cap per choice (default 4096)
  --max-concurrent-streams <n>  more → 503 (default 256)
  --max-body-bytes <n>          bigger → 413 (default 1048576)
  --fault <spec>                fault on every inference request, e.g. reset_after_frames:3
  --fault-rate <spec>=<p>       fault with probability p (repeatable), e.g. --fault-rate http_503=0.05
  --seed <n>                    seed for fault draws
  --hold-ms <ms>                timeout_before_headers closes the socket after this (default 30000)
  --retry-after <s>             Retry-After for rate_limit / overload (default 1)
  --api-key <token>             require Authorization: Bearer <token>
  --models <json|@file>         models served, as JSON (or @path to a JSON file)
  --no-header-overrides         ignore x-sim-* request headers
  --help`;

function number(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (/^inf(inity)?$/i.test(raw)) return Infinity;
  const n = Number(raw);
  if (raw.trim() === '' || Number.isNaN(n)) throw new Error(`${flag} expects a number, got "${raw}"`);
  return n;
}

function optionsFromArgs(argv: string[]): SimulatorOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'ttft-ms': { type: 'string' },
      tps: { type: 'string' },
      'tokens-per-frame': { type: 'string' },
      'completion-tokens': { type: 'string' },
      'max-tokens-per-reply': { type: 'string' },
      'max-concurrent-streams': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      fault: { type: 'string' },
      'fault-rate': { type: 'string', multiple: true },
      seed: { type: 'string' },
      'hold-ms': { type: 'string' },
      'retry-after': { type: 'string' },
      'api-key': { type: 'string' },
      models: { type: 'string' },
      'no-header-overrides': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const o: SimulatorOptions = {};
  const set = <K extends keyof SimulatorOptions>(key: K, v: SimulatorOptions[K] | undefined) => {
    if (v !== undefined) o[key] = v;
  };
  set('host', values.host);
  set('port', number('--port', values.port));
  set('ttftMs', number('--ttft-ms', values['ttft-ms']));
  set('tokensPerSecond', number('--tps', values.tps));
  set('tokensPerFrame', number('--tokens-per-frame', values['tokens-per-frame']));
  const ct = values['completion-tokens'];
  if (ct !== undefined) {
    const range = /^(\d+)\s*-\s*(\d+)$/.exec(ct);
    o.completionTokens = range ? { min: Number(range[1]), max: Number(range[2]) } : number('--completion-tokens', ct);
  }
  set('maxTokensPerReply', number('--max-tokens-per-reply', values['max-tokens-per-reply']));
  set('maxConcurrentStreams', number('--max-concurrent-streams', values['max-concurrent-streams']));
  set('maxBodyBytes', number('--max-body-bytes', values['max-body-bytes']));
  set('fault', values.fault);
  if (values['fault-rate']) {
    const rates: Record<string, number> = {};
    for (const entry of values['fault-rate']) {
      const eq = entry.lastIndexOf('=');
      if (eq <= 0) throw new Error(`--fault-rate expects <spec>=<probability>, got "${entry}"`);
      rates[entry.slice(0, eq)] = number('--fault-rate', entry.slice(eq + 1)) ?? 0;
    }
    o.faultRates = rates;
  }
  set('seed', number('--seed', values.seed));
  set('holdMs', number('--hold-ms', values['hold-ms']));
  set('retryAfterSeconds', number('--retry-after', values['retry-after']));
  set('apiKey', values['api-key']);
  if (values.models !== undefined) {
    const text = values.models.startsWith('@') ? readFileSync(values.models.slice(1), 'utf8') : values.models;
    o.models = JSON.parse(text) as SimModel[];
  }
  if (values['no-header-overrides']) o.headerOverrides = false;
  return o;
}

async function main(): Promise<void> {
  let options: SimulatorOptions | 'help';
  try {
    options = optionsFromArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n\n${HELP}\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(HELP + '\n');
    return;
  }
  const sim = await startSimulator(options);
  const o = sim.options();
  process.stdout.write(
    `simulator listening on ${sim.url} (OpenAI base URL ${sim.url}/v1)\n` +
      `  models: ${o.models.map((m) => m.id).join(', ')}\n` +
      `  ttft ${o.ttftMs} ms, ${o.tokensPerSecond} tokens/s, ${o.tokensPerFrame} token(s)/frame` +
      (o.fault ? `, fault ${o.fault.name}` : '') +
      (o.faultTable.length ? `, ${o.faultTable.length} fault rate(s)` : '') +
      (o.apiKey ? ', bearer token required' : '') +
      '\n',
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping\n`);
    void sim.stop().then(() => {
      process.stdout.write(JSON.stringify(sim.stats(), null, 2) + '\n');
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

await main();
