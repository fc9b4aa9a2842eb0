/**
 * Offline synthesis of the SST v2 app, the way `sst deploy` builds it but without AWS: initProject, an SST App
 * in deploy mode, config.stacks(app), app.finish(). Under vitest NODE_ENV=test, so SST skips its bootstrap
 * look-ups. Lambda code is really bundled by esbuild (handlers in functions/ must exist). Each stack's template
 * is also written to test-artifacts/templates/<stage>/<stack>.json (cfn-lint reads them in .ci/run).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initProject, useProject } from 'sst/project.js';
import { App, type Stack } from 'sst/constructs';
import { Template } from 'aws-cdk-lib/assertions';
import type { SSTConfig } from 'sst';
import sstConfig from '../../sst.config.js';

const config: SSTConfig = sstConfig;

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The account the offline synthesis uses (no AWS credentials here). */
export const SYNTH_ACCOUNT = '123456789012';

/** Where every synthesis writes its templates (one JSON file per stack): .ci/run lints them with cfn-lint. */
export const TEMPLATES_DIR = fileURLToPath(new URL('../../test-artifacts/templates', import.meta.url));

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
  let artifacts: string | undefined;
  try {
    await initProject({ stage });
    // Bundles into a directory of this process's own: SST's default (.sst/artifacts/<fn>) is emptied by every build,
    // so two syntheses at once (vitest runs test files in parallel forks) would delete each other's bundles.
    const project = useProject();
    project.paths.artifacts = artifacts = path.join(project.paths.out, 'artifacts', `synth-${process.pid}`);
    setEnv(env); // after initProject, which loads .env files over process.env
    const { name, region } = await config.config({ stage });
    // A 12-digit placeholder account (SST's default, "my-account", makes ARNs cfn-lint rightly rejects).
    const app = new App({ mode: 'deploy', stage, name, region, account: SYNTH_ACCOUNT });
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
    const dir = path.join(TEMPLATES_DIR, stage);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    for (const [id, template] of Object.entries(json)) fs.writeFileSync(path.join(dir, `${id}.json`), `${JSON.stringify(template, null, 1)}\n`);
    return { stage, ms: Math.round(performance.now() - started), templates, json };
  } finally {
    setEnv(saved);
    if (artifacts) fs.rmSync(artifacts, { recursive: true, force: true }); // the templates hold all the tests read
  }
}
