/**
 * One EventBridge rule per row of infra/schedules.ts, with the row's rate()/cron() expression unchanged.
 * The target is either a Lambda (handler + its table access) or a state machine from stacks/Workflows.ts
 * (the rule's role may only states:StartExecution on that machine).
 */
import { use, type StackContext, type Function as SstFunction } from 'sst/constructs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SCHEDULES } from '../infra/schedules.js';
import { Storage } from './Storage.js';
import { Workflows } from './Workflows.js';
import { constructId, tableFunction } from './common.js';

export function Schedules({ stack, app }: StackContext) {
  const { cdkTable } = use(Storage);
  const { workflows } = use(Workflows);
  const rules: Record<string, events.Rule> = {};
  const functions: Record<string, SstFunction> = {};

  for (const def of SCHEDULES) {
    const target = (() => {
      if ('workflow' in def.target) {
        const w = workflows[def.target.workflow];
        if (!w) throw new Error(`schedule ${def.name}: unknown workflow "${def.target.workflow}" (infra/workflows.ts)`);
        return new targets.SfnStateMachine(w.stateMachine);
      }
      const fn = tableFunction(stack, constructId('Scheduled', def.name), {
        handler: def.target.handler,
        access: def.target.access,
        table: cdkTable,
        ...(def.target.timeout_s ? { timeout: def.target.timeout_s } : {}),
      });
      functions[def.name] = fn;
      return new targets.LambdaFunction(fn);
    })();

    rules[def.name] = new events.Rule(stack, constructId('Rule', def.name), {
      ruleName: app.logicalPrefixedName(def.name),
      description: def.description,
      schedule: events.Schedule.expression(def.expression),
      targets: [target],
    });
  }

  return { rules, functions };
}
