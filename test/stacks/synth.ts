/**
 * Offline synthesis of the SST v2 app, the way `sst deploy` builds it but without AWS: initProject, an SST App
 * in deploy mode, config.stacks(app), app.finish(). Under vitest NODE_ENV=test, so SST skips its bootstrap
 * look-ups. Lambda code is really bundled by esbuild (handlers in functions/ must exist).
 */
import { initProject } from 'sst/project.js';
import { App, type Stack } from 'sst/constructs';
import { Template } from 'aws-cdk-lib/assertions';
import type { SSTConfig } from 'sst';
import sstConfig from '../../sst.config.js';

const config: SSTConfig = sstConfig;

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Synth {
  stage: string;
  ms: number;
  /** Keyed by the stack function's name: Storage, Queues, Workflows, Api, Schedules. */
  templates: Record<string, Template>;
  json: Record<string, Json>;
}

/** Synthesize every stack for `stage`, with `env` set in process.env during the synthesis only. */
export async function synthesize(stage: string, env: Record<string, string | undefined> = {}): Promise<Synth> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const setEnv = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  const started = performance.now();
  try {
    await initProject({ stage });
    setEnv(env); // after initProject, which loads .env files over process.env
    const { name, region } = await config.config({ stage });
    const app = new App({ mode: 'deploy', stage, name, region });
    await config.stacks(app);
    await app.finish();

    const templates: Record<string, Template> = {};
    const json: Record<string, Json> = {};
    const prefix = `${stage}-${name}-`;
    for (const child of app.node.children) {
      const stack = child as Stack;
      if (typeof stack.stackName !== 'string' || !stack.stackName.startsWith(prefix)) continue;
      const id = stack.stackName.slice(prefix.length);
      templates[id] = Template.fromStack(stack);
      json[id] = templates[id].toJSON() as Json;
    }
    return { stage, ms: Math.round(performance.now() - started), templates, json };
  } finally {
    setEnv(saved);
  }
}
