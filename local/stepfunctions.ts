/**
 * Step Functions, locally: each row of infra/workflows.ts runs its ASL file, unchanged, in the
 * aws-local-stepfunctions interpreter, and a small Step Functions-compatible HTTP endpoint lets handler code
 * use the real @aws-sdk/client-sfn (AWS_ENDPOINT_URL_SFN) to start and inspect executions.
 *
 * Binding tasks: the ASL names Lambda resources as "${Key}" placeholders (stacks/Workflows.ts fills them with
 * DefinitionSubstitutions). Here every Task state whose Resource is "${Key}" — found by walking the States,
 * including Map Iterator/ItemProcessor and Parallel Branches — is overridden with
 * `run(input, { overrides: { taskResourceLocalHandlers: { [stateName]: fn } } })`, where fn invokes
 * tasks[Key].handler as Lambda would (event = the state's effective input, result = the task result).
 * The override map is keyed by state name and is passed down to nested Map/Parallel machines by the
 * interpreter, so two Task states with the same name must name the same resource (checked on load).
 * A Task with any other Resource (a real ARN, a service integration) is refused on load: the interpreter
 * would otherwise call real AWS.
 *
 * A failing task surfaces like a Lambda error in Step Functions: Error = the error's name, Cause = a JSON
 * string {errorMessage, errorType, trace}.
 *
 * Protocol: AWS JSON 1.0 (POST /, X-Amz-Target: AWSStepFunctions.<Operation>), timestamps as epoch seconds,
 * errors as HTTP 400 with {"__type", "message"} and X-Amzn-ErrorType. Supported: StartExecution,
 * DescribeExecution, ListExecutions, StopExecution, ListStateMachines, DescribeStateMachine.
 * Executions are kept in memory; with a journal (local/sfn-journal.ts, in the runtime's data folder) the running
 * ones are recorded, and after a restart `resume()` starts those of resumable workflows again, same name and input,
 * at their StartAt (infra/workflows.ts `resumable`: their tasks take up the work from its stored state).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { StateMachine, ExecutionAbortedError, ExecutionTimeoutError, type RunOptions, type StateMachineDefinition } from 'aws-local-stepfunctions';

type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type JsonValue = Parameters<TaskHandlers[string]>[0];
import type { WorkflowDef } from '../infra/workflows.js';
import { LOCAL_ACCOUNT_ID, LOCAL_HOST, LOCAL_REGION, REPO_ROOT, readBody } from './aws.js';
import { now as clockNow } from '../packages/core/src/clock.js';
import {
  DEFAULT_FUNCTION_TIMEOUT_SECONDS,
  createLambdaContext,
  functionNameFor,
  invokeHandler,
  logInvokeError,
  toError,
  type HandlerResolver,
} from './lambda.js';
import type { LocalGrants } from './grants.js';
import type { ExecutionJournal, JournalEntry } from './sfn-journal.js';

/** Step Functions' cap on execution input and output (256 KiB). */
const MAX_PAYLOAD_BYTES = 256 * 1024;
/** Largest request body the endpoint reads (input + envelope). */
const MAX_REQUEST_BYTES = 1024 * 1024;
/** Executions kept per state machine; the oldest finished ones are forgotten first. */
const MAX_EXECUTIONS_PER_MACHINE = 20_000;
/** Running executions allowed per state machine (a runaway starter should fail, not exhaust memory); every pending or scheduled booking waits in one. */
const MAX_RUNNING_PER_MACHINE = 10_000;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface Execution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  /** Settles when the execution ends (never rejects). */
  done: Promise<void>;
  abort?: () => void;
}

interface LoadedWorkflow {
  def: WorkflowDef;
  arn: string;
  definition: StateMachineDefinition;
  machine: StateMachine;
  /** Task state name -> placeholder key in def.tasks. */
  taskStates: Map<string, string>;
  executions: Map<string, Execution>;
  createdAt: Date;
}

export function stateMachineArn(name: string): string {
  return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${name}`;
}
export function executionArn(machine: string, execution: string): string {
  return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:execution:${machine}:${execution}`;
}

interface AslState {
  Type?: string;
  Resource?: unknown;
  Iterator?: AslMachine;
  ItemProcessor?: AslMachine;
  Branches?: AslMachine[];
}
interface AslMachine {
  States?: Record<string, AslState>;
}

/** Every state of `type` in the machine, nested ones (Map, Parallel) included. */
function findStates(definition: AslMachine, type: string): Array<{ stateName: string; state: { Resource?: unknown } }> {
  const out: Array<{ stateName: string; state: { Resource?: unknown } }> = [];
  const walk = (m: AslMachine | undefined) => {
    for (const [stateName, state] of Object.entries(m?.States ?? {})) {
      if (state.Type === type) out.push({ stateName, state });
      if (state.Type === 'Map') {
        walk(state.Iterator);
        walk(state.ItemProcessor);
      }
      if (state.Type === 'Parallel') for (const b of state.Branches ?? []) walk(b);
    }
  };
  walk(definition);
  return out;
}

/** Every Task state (name, Resource) in a definition, nested Map and Parallel machines included. */
export function findTaskStates(definition: AslMachine): Array<{ stateName: string; resource: unknown }> {
  return findStates(definition, 'Task').map(({ stateName, state }) => ({ stateName, resource: state.Resource }));
}

/**
 * COMPUX_SFN_WAIT_MS (local runtime only, for tests and demos): every Wait state waits this many milliseconds
 * (0 to 60,000) instead of what its ASL says, so a booking's hours pass in moments. Read at each start.
 */
export function waitOverrides(definition: AslMachine): Record<string, number> | undefined {
  const raw = process.env.COMPUX_SFN_WAIT_MS;
  if (raw === undefined || raw === '') return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0 || ms > 60_000) throw new Error(`COMPUX_SFN_WAIT_MS=${JSON.stringify(raw)} is not a whole number of milliseconds in [0, 60000]`);
  return Object.fromEntries(findStates(definition, 'Wait').map(({ stateName }) => [stateName, ms]));
}

/**
 * Reads and validates a workflow's ASL (aws-local-stepfunctions validates with asl-validator, ARNs and
 * JSONPaths included; "${Key}" placeholders are accepted as resources) and maps its Task states to tasks.
 */
export function loadWorkflow(def: WorkflowDef, root: string = REPO_ROOT): Omit<LoadedWorkflow, 'executions' | 'createdAt'> {
  const file = path.resolve(root, def.asl);
  const definition = withLocalTimeout(JSON.parse(readFileSync(file, 'utf8')) as StateMachineDefinition);
  let machine: StateMachine;
  try {
    machine = new StateMachine(definition);
  } catch (err) {
    throw new Error(`${def.asl}: ${(err as Error).message}`);
  }
  const taskStates = new Map<string, string>();
  for (const { stateName, resource } of findTaskStates(definition as AslMachine)) {
    const m = typeof resource === 'string' ? /^\$\{([A-Za-z0-9_]+)\}$/.exec(resource) : null;
    if (!m) {
      throw new Error(`${def.asl}: Task state "${stateName}" has Resource ${JSON.stringify(resource)}; only "\${Key}" placeholders bound to infra/workflows.ts tasks run locally`);
    }
    const key = m[1] as string;
    if (!def.tasks[key]) throw new Error(`${def.asl}: Task state "${stateName}" uses \${${key}}, which has no task in infra/workflows.ts (${def.name})`);
    const prev = taskStates.get(stateName);
    if (prev !== undefined && prev !== key) {
      throw new Error(`${def.asl}: two Task states named "${stateName}" use different resources (${prev}, ${key}); local overrides are keyed by state name`);
    }
    taskStates.set(stateName, key);
  }
  return { def, arn: stateMachineArn(def.name), definition, machine, taskStates };
}

/** The longest timer Node keeps (2^31 − 1 ms, 24.8 days): a longer one fires at once. */
const MAX_TIMER_S = Math.floor(2_147_483_647 / 1000);

/**
 * An execution timeout longer than Node's longest timer is dropped locally: the interpreter would time the
 * execution out at once. Such an execution could not outlive the runtime's memory anyway (a restart loses it).
 */
function withLocalTimeout(definition: StateMachineDefinition): StateMachineDefinition {
  const t = (definition as { TimeoutSeconds?: unknown }).TimeoutSeconds;
  if (typeof t !== 'number' || t <= MAX_TIMER_S) return definition;
  const { TimeoutSeconds: _dropped, ...rest } = definition as StateMachineDefinition & { TimeoutSeconds?: number };
  return rest as StateMachineDefinition;
}

/** An error shaped as the Step Functions API returns it. */
export class SfnApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

export interface StartExecutionInput {
  stateMachineArn?: string;
  name?: string;
  input?: string;
}

export class LocalStepFunctions {
  readonly #workflows = new Map<string, LoadedWorkflow>();
  readonly #resolveHandler: HandlerResolver;
  readonly #grants: LocalGrants | undefined;
  readonly #journal: ExecutionJournal | undefined;
  /** What the journal says was running when the runtime last stopped, until resume() takes it up. */
  #interrupted = new Map<string, JournalEntry>();
  #stopped = false;

  /**
   * grants: enforce each task's grant (its access and sends) on its SDK calls (local/grants.ts); journal: record
   * running executions so that resume() can take them up after a restart.
   */
  constructor(opts: { workflows: readonly WorkflowDef[]; resolveHandler: HandlerResolver; root?: string; grants?: LocalGrants; journal?: ExecutionJournal }) {
    this.#resolveHandler = opts.resolveHandler;
    this.#grants = opts.grants;
    this.#journal = opts.journal;
    if (opts.journal) this.#interrupted = opts.journal.load();
    for (const def of opts.workflows) {
      const loaded = loadWorkflow(def, opts.root);
      this.#workflows.set(loaded.arn, { ...loaded, executions: new Map(), createdAt: clockNow() });
    }
  }

  arnOf(name: string): string {
    const arn = stateMachineArn(name);
    if (!this.#workflows.has(arn)) throw new Error(`no workflow named ${name}`);
    return arn;
  }

  stateMachines(): Array<{ name: string; arn: string; createdAt: Date; definition: StateMachineDefinition }> {
    return [...this.#workflows.values()].map((w) => ({ name: w.def.name, arn: w.arn, createdAt: w.createdAt, definition: w.definition }));
  }

  startExecution(req: StartExecutionInput): { executionArn: string; startDate: Date } {
    if (this.#stopped) throw new SfnApiError('ServiceUnavailable', 'the local Step Functions service is stopping');
    const wf = this.#machine(req.stateMachineArn);
    const inputText = req.input ?? '{}';
    if (typeof inputText !== 'string') throw new SfnApiError('InvalidExecutionInput', 'input must be a string of JSON');
    if (Buffer.byteLength(inputText) > MAX_PAYLOAD_BYTES) throw new SfnApiError('InvalidExecutionInput', 'input exceeds 262144 bytes');
    let input: unknown;
    try {
      input = JSON.parse(inputText);
    } catch {
      throw new SfnApiError('InvalidExecutionInput', 'Invalid State Machine Execution Input: input is not valid JSON');
    }
    const name = req.name ?? randomUUID();
    if (typeof name !== 'string' || !/^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/.test(name)) {
      throw new SfnApiError('InvalidName', `Invalid Name: '${String(name)}'`);
    }
    const arn = executionArn(wf.def.name, name);
    const existing = wf.executions.get(arn);
    if (existing) {
      // Step Functions: the same name with the same input while running is idempotent; anything else is a conflict.
      if (existing.status === 'RUNNING' && existing.input === inputText) return { executionArn: arn, startDate: existing.startDate };
      throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const running = [...wf.executions.values()].filter((e) => e.status === 'RUNNING').length;
    if (running >= MAX_RUNNING_PER_MACHINE) throw new SfnApiError('ExecutionLimitExceeded', `more than ${MAX_RUNNING_PER_MACHINE} running executions`);

    const startDate = clockNow(); // $$.Execution.StartTime: on the CompuX clock
    const overrides: TaskHandlers = Object.fromEntries(
      [...wf.taskStates].map(([stateName, key]) => [stateName, (taskInput: JsonValue) => this.#runTask(wf, key, taskInput)]),
    );
    const waits = waitOverrides(wf.definition as AslMachine);
    const run = wf.machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: overrides, ...(waits ? { waitTimeOverrides: waits } : {}) },
      context: {
        Execution: { Id: arn, Name: name, RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/local`, StartTime: startDate.toISOString() },
        StateMachine: { Id: wf.arn, Name: wf.def.name },
      },
    });
    const exec: Execution = { executionArn: arn, stateMachineArn: wf.arn, name, status: 'RUNNING', startDate, input: inputText, done: Promise.resolve(), abort: run.abort };
    exec.done = run.result.then(
      (output) => {
        const text = JSON.stringify(output ?? null);
        if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) {
          this.#finish(exec, 'FAILED', { error: 'States.DataLimitExceeded', cause: 'The state/task returned a result with a size exceeding the maximum number of bytes service limit.' });
        } else this.#finish(exec, 'SUCCEEDED', { output: text });
      },
      (err: unknown) => {
        if (exec.status !== 'RUNNING') return; // stopped by StopExecution
        if (err instanceof ExecutionAbortedError) this.#finish(exec, 'ABORTED', {});
        else if (err instanceof ExecutionTimeoutError) this.#finish(exec, 'TIMED_OUT', { error: 'States.Timeout', cause: 'The execution timed out' });
        else {
          const cause = (err as { cause?: unknown }).cause;
          const e = toError(cause ?? err);
          this.#finish(exec, 'FAILED', { error: e.name, cause: e.message });
        }
      },
    );
    wf.executions.set(arn, exec);
    this.#journal?.started(arn, { machine: wf.def.name, name, input: inputText });
    this.#evict(wf);
    return { executionArn: arn, startDate };
  }

  /**
   * After a restart (the handlers' environment set): starts again, same name and input, every execution the journal
   * says was running, of a workflow marked resumable; the others are reported lost (and forgotten).
   */
  resume(): { resumed: string[]; lost: string[] } {
    const out = { resumed: [] as string[], lost: [] as string[] };
    for (const [arn, e] of this.#interrupted) {
      const wf = this.#workflows.get(stateMachineArn(e.machine));
      if (wf?.def.resumable) {
        this.startExecution({ stateMachineArn: wf.arn, name: e.name, input: e.input });
        out.resumed.push(arn);
      } else {
        this.#journal?.ended(arn);
        out.lost.push(arn);
      }
    }
    this.#interrupted.clear();
    return out;
  }

  async #runTask(wf: LoadedWorkflow, key: string, input: JsonValue): Promise<JsonValue> {
    const task = wf.def.tasks[key]!;
    const handler = await this.#resolveHandler(task.handler);
    const timeoutMs = (task.timeout_s ?? DEFAULT_FUNCTION_TIMEOUT_SECONDS) * 1000;
    const context = createLambdaContext({ functionName: functionNameFor(task.handler), timeoutMs });
    try {
      // Lambda serialises the payload: the handler gets its own copy, and the result must be JSON.
      const grant = this.#grants?.for({ handler: task.handler, access: task.access, sends: task.sends ?? [], ...(task.relayKey ? { relayKey: task.relayKey } : {}) });
      const result = await invokeHandler(handler, structuredClone(input), context, timeoutMs, grant);
      return result === undefined ? null : (JSON.parse(JSON.stringify(result)) as JsonValue);
    } catch (err) {
      logInvokeError(`sfn ${wf.def.name} ${key}`, err);
      const e = toError(err);
      const lambdaError = new Error(JSON.stringify({ errorMessage: e.message, errorType: e.name, trace: e.stack?.split('\n') ?? [] }));
      lambdaError.name = e.name;
      throw lambdaError;
    }
  }

  #finish(exec: Execution, status: ExecutionStatus, extra: { output?: string; error?: string; cause?: string }): void {
    if (exec.status !== 'RUNNING') return;
    // Stopped with the runtime, it is still running as far as AWS would know: the journal keeps it for resume().
    if (!this.#stopped) this.#journal?.ended(exec.executionArn);
    exec.status = status;
    exec.stopDate = clockNow();
    Object.assign(exec, extra);
    delete exec.abort;
  }

  #evict(wf: LoadedWorkflow): void {
    if (wf.executions.size <= MAX_EXECUTIONS_PER_MACHINE) return;
    for (const [arn, e] of wf.executions) {
      if (wf.executions.size <= MAX_EXECUTIONS_PER_MACHINE) break;
      if (e.status !== 'RUNNING') wf.executions.delete(arn);
    }
  }

  #machine(arn: string | undefined): LoadedWorkflow {
    if (typeof arn !== 'string' || arn === '') throw new SfnApiError('ValidationException', 'stateMachineArn is required');
    if (!/^arn:aws:states:[^:]+:\d{12}:stateMachine:[^:]+$/.test(arn)) throw new SfnApiError('InvalidArn', `Invalid Arn: '${arn}'`);
    const wf = this.#workflows.get(arn);
    if (!wf) throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return wf;
  }

  #execution(arn: string | undefined): Execution {
    if (typeof arn !== 'string' || arn === '') throw new SfnApiError('ValidationException', 'executionArn is required');
    const m = /^arn:aws:states:[^:]+:\d{12}:execution:([^:]+):[^:]+$/.exec(arn);
    if (!m) throw new SfnApiError('InvalidArn', `Invalid Arn: '${arn}'`);
    const exec = this.#workflows.get(stateMachineArn(m[1] as string))?.executions.get(arn);
    if (!exec) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return exec;
  }

  describeExecution(arn: string | undefined): Execution {
    return this.#execution(arn);
  }

  stopExecution(arn: string | undefined, error?: string, cause?: string): { stopDate: Date } {
    const exec = this.#execution(arn);
    if (exec.status === 'RUNNING') {
      const abort = exec.abort;
      this.#finish(exec, 'ABORTED', { ...(error ? { error } : {}), ...(cause ? { cause } : {}) });
      abort?.();
    }
    return { stopDate: exec.stopDate ?? clockNow() };
  }

  listExecutions(arn: string | undefined, statusFilter?: string): Execution[] {
    const wf = this.#machine(arn);
    return [...wf.executions.values()]
      .filter((e) => !statusFilter || e.status === statusFilter)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  }

  /** Starts an execution and resolves with it once it has ended (used by the scheduler). */
  async runToCompletion(workflowName: string, input: unknown): Promise<Execution> {
    const { executionArn: arn } = this.startExecution({ stateMachineArn: this.arnOf(workflowName), input: JSON.stringify(input ?? {}) });
    const exec = this.#execution(arn);
    await exec.done;
    return exec;
  }

  /** Aborts running executions and refuses new ones. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const all = [...this.#workflows.values()].flatMap((w) => [...w.executions.values()]);
    for (const e of all) if (e.status === 'RUNNING') this.stopExecution(e.executionArn, 'States.Aborted', 'local runtime stopped');
    await Promise.allSettled(all.map((e) => e.done));
  }
}

// ---------------------------------------------------------------------------------------------
// The HTTP endpoint (AWS JSON 1.0)

const epochSeconds = (d: Date | undefined) => (d ? d.getTime() / 1000 : undefined);

function describe(e: Execution) {
  return {
    executionArn: e.executionArn,
    stateMachineArn: e.stateMachineArn,
    name: e.name,
    status: e.status,
    startDate: epochSeconds(e.startDate),
    stopDate: epochSeconds(e.stopDate),
    input: e.input,
    inputDetails: { included: true },
    output: e.output,
    outputDetails: e.output !== undefined ? { included: true } : undefined,
    error: e.error,
    cause: e.cause,
  };
}

function listItem(e: Execution) {
  return { executionArn: e.executionArn, stateMachineArn: e.stateMachineArn, name: e.name, status: e.status, startDate: epochSeconds(e.startDate), stopDate: epochSeconds(e.stopDate) };
}

function paginate<T>(items: T[], body: { maxResults?: unknown; nextToken?: unknown }): { page: T[]; nextToken?: string } {
  const max = body.maxResults === undefined || body.maxResults === 0 ? 100 : Number(body.maxResults);
  if (!Number.isInteger(max) || max < 1 || max > 1000) throw new SfnApiError('ValidationException', 'maxResults must be between 1 and 1000');
  let start = 0;
  if (body.nextToken !== undefined) {
    start = Number(Buffer.from(String(body.nextToken), 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw new SfnApiError('InvalidToken', 'Invalid Token');
  }
  const page = items.slice(start, start + max);
  return start + max < items.length ? { page, nextToken: Buffer.from(String(start + max)).toString('base64url') } : { page };
}

type Body = Record<string, unknown>;

export function handleSfnOperation(sfn: LocalStepFunctions, operation: string, body: Body): unknown {
  switch (operation) {
    case 'StartExecution': {
      const out = sfn.startExecution({ stateMachineArn: body.stateMachineArn as string, name: body.name as string | undefined, input: body.input as string | undefined });
      return { executionArn: out.executionArn, startDate: epochSeconds(out.startDate) };
    }
    case 'DescribeExecution':
      return describe(sfn.describeExecution(body.executionArn as string));
    case 'StopExecution':
      return { stopDate: epochSeconds(sfn.stopExecution(body.executionArn as string, body.error as string | undefined, body.cause as string | undefined).stopDate) };
    case 'ListExecutions': {
      const { page, nextToken } = paginate(sfn.listExecutions(body.stateMachineArn as string, body.statusFilter as string | undefined), body);
      return { executions: page.map(listItem), nextToken };
    }
    case 'ListStateMachines': {
      const { page, nextToken } = paginate(sfn.stateMachines(), body);
      return { stateMachines: page.map((m) => ({ stateMachineArn: m.arn, name: m.name, type: 'STANDARD', creationDate: epochSeconds(m.createdAt) })), nextToken };
    }
    case 'DescribeStateMachine': {
      const m = sfn.stateMachines().find((x) => x.arn === body.stateMachineArn);
      if (!m) throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(body.stateMachineArn)}'`);
      return {
        stateMachineArn: m.arn,
        name: m.name,
        status: 'ACTIVE',
        definition: JSON.stringify(m.definition),
        roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/local`,
        type: 'STANDARD',
        creationDate: epochSeconds(m.createdAt),
      };
    }
    default:
      throw new SfnApiError('UnknownOperationException', `operation ${operation} is not supported by the local Step Functions endpoint`);
  }
}

export interface SfnEndpoint {
  endpoint: string;
  server: Server;
  close(): Promise<void>;
}

export async function startSfnEndpoint(sfn: LocalStepFunctions, opts: { port?: number; host?: string } = {}): Promise<SfnEndpoint> {
  const host = opts.host ?? LOCAL_HOST;
  const server = createServer((req, res) => void serve(sfn, req, res));
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    endpoint: `http://${host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function serve(sfn: LocalStepFunctions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const send = (status: number, payload: unknown, errorType?: string) => {
    const body = JSON.stringify(payload ?? {});
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': randomUUID(),
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    });
    res.end(body);
  };
  const fail = (status: number, type: string, message: string) => send(status, { __type: `com.amazonaws.swf.service.v2.model#${type}`, message }, type);

  const target = String(req.headers['x-amz-target'] ?? '');
  if (req.method !== 'POST' || !target.startsWith('AWSStepFunctions.')) {
    return fail(400, 'UnknownOperationException', 'expected POST with X-Amz-Target: AWSStepFunctions.<Operation>');
  }
  let text: string;
  try {
    text = (await readBody(req, MAX_REQUEST_BYTES)).toString('utf8');
  } catch {
    // Answer, then drop the connection: the rest of the oversized body is not read.
    res.setHeader('connection', 'close');
    res.once('finish', () => req.destroy());
    return fail(413, 'ValidationException', `request body exceeds ${MAX_REQUEST_BYTES} bytes`);
  }
  let body: Body;
  try {
    body = text ? (JSON.parse(text) as Body) : {};
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object');
  } catch {
    return fail(400, 'SerializationException', 'request body is not a JSON object');
  }
  try {
    send(200, handleSfnOperation(sfn, target.slice('AWSStepFunctions.'.length), body));
  } catch (err) {
    if (err instanceof SfnApiError) return fail(400, err.type, err.message);
    console.error('[sfn] internal error', err);
    fail(500, 'InternalFailure', 'internal error');
  }
}

