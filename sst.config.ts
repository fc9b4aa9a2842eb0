/**
 * CompuX on AWS (SST v2). One isolated stack set per stage: `npx sst deploy --stage <name>`.
 * Every stack is generated from the tables in infra/ — see docs/stacks.md.
 */
import type { SSTConfig } from 'sst';
import { Storage } from './stacks/Storage.js';
import { Queues } from './stacks/Queues.js';
import { Workflows } from './stacks/Workflows.js';
import { ApiFunctions } from './stacks/ApiFunctions.js';
import { Api } from './stacks/Api.js';
import { Schedules } from './stacks/Schedules.js';
import { Web } from './stacks/Web.js';
import { Monitoring } from './stacks/Monitoring.js';
import { applyNag } from './stacks/nag.js';

export default {
  config() {
    return { name: 'compux', region: 'us-east-1' };
  },
  stacks(app) {
    app.setDefaultFunctionProps({
      runtime: 'nodejs22.x',
      architecture: 'arm_64',
      memorySize: 1024,
      timeout: 10,
      tracing: 'active',
      // No logRetention: stacks/common.ts#tableFunction gives every function an explicit log group with its
      // retention (no Custom::LogRetention resources; see docs/stacks.md).
      nodejs: { format: 'esm' },
      environment: {
        POWERTOOLS_SERVICE_NAME: 'compux',
        POWERTOOLS_METRICS_NAMESPACE: 'compux',
        POWERTOOLS_LOG_LEVEL: app.stage === 'prod' ? 'INFO' : 'DEBUG',
        COMPUX_STAGE: app.stage,
      },
    });
    // TABLE_NAME is set on every function by stacks/common.ts#tableFunction (the table lives in Storage).
    // Dependency order: the route Lambdas (ApiFunctions) before the REST API that imports them (Api).
    app
      .stack(Storage)
      .stack(Queues)
      .stack(Workflows)
      .stack(ApiFunctions)
      .stack(Api)
      .stack(Schedules)
      .stack(Web)
      .stack(Monitoring);
    // AWS Solutions checks (cdk-nag) on every stack, with the app's justified suppressions (stacks/nag.ts).
    applyNag(app);
  },
} satisfies SSTConfig;
