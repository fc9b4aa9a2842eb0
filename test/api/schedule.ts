/** Runs one of infra/schedules.ts's handler schedules once, as the scheduler runs it: its handler, under its own grant. */
import { createLambdaContext, functionNameFor, invokeHandler } from '../../local/lambda.js';
import { SCHEDULES } from '../../infra/schedules.js';
import type { TestRuntime } from './runtime.js';

export async function runSchedule<T>(rt: TestRuntime, name: string, timeoutMs = 60_000): Promise<T> {
  const row = SCHEDULES.find((s) => s.name === name);
  if (!row || !('handler' in row.target)) throw new Error(`${name} is not a handler schedule`);
  const handler = await rt.resolveHandler(row.target.handler);
  return invokeHandler<T>(handler, {}, createLambdaContext({ functionName: functionNameFor(row.target.handler), timeoutMs }), timeoutMs, rt.grants.for(row.target));
}
