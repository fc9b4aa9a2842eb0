/**
 * Loading and invoking handlers the way Lambda does.
 *
 * A handler reference is SST v2's "<file without extension>.<export>" relative to the repo root
 * (e.g. "functions/facilities.open"); the module is imported with a dynamic import of the .ts file
 * (tsx is the loader: `node --import tsx`, or vitest). The awslambda shim is installed before any import.
 *
 * invokeHandler() calls `handler(event, context, callback)` exactly as the Node.js runtime does: an async
 * (or middy-wrapped) handler returns a promise; a callback-style handler calls the callback. The invocation
 * is bounded by the function's timeout: past it the caller gets a LambdaTimeoutError (the handler cannot be
 * killed in-process, so its late result is ignored, as Lambda would have frozen it). Given the function's grant,
 * the invocation runs inside it (local/grants.ts): an SDK call outside its row fails with AccessDenied.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { installAwslambdaShim } from './awslambda-shim.js';
import { withGrant, type ResolvedGrant } from './grants.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, REPO_ROOT } from './aws.js';
import { nowIso } from '../packages/core/src/clock.js';

/** SST v2's default function timeout, used for handlers whose row gives none (consumers, tasks, schedules). */
export const DEFAULT_FUNCTION_TIMEOUT_SECONDS = 10;
/** Lambda's hard ceiling. */
export const MAX_FUNCTION_TIMEOUT_SECONDS = 900;
/** The memory size reported in the context (cosmetic, SST v2's default). */
const MEMORY_MB = '1024';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a Lambda handler takes any event
export type AnyHandler = (...args: any[]) => unknown;
export type HandlerResolver = (ref: string) => Promise<AnyHandler>;

export interface HandlerRef {
  /** Module path relative to the root, without extension: "functions/facilities". */
  file: string;
  exportName: string;
}

/** Splits "functions/facilities.open" at its last dot; rejects anything that could escape the root. */
export function parseHandlerRef(ref: string): HandlerRef {
  const dot = ref.lastIndexOf('.');
  const file = dot > 0 ? ref.slice(0, dot) : '';
  const exportName = dot > 0 ? ref.slice(dot + 1) : '';
  if (!file || !/^[A-Za-z_$][\w$]*$/.test(exportName)) {
    throw new Error(`invalid handler reference "${ref}": expected "<file>.<export>", e.g. "functions/facilities.open"`);
  }
  if (path.isAbsolute(file) || file.split(/[\\/]/).includes('..')) {
    throw new Error(`invalid handler reference "${ref}": must be a path inside the repository`);
  }
  return { file, exportName };
}

/** Extensions tried in order, as SST's own resolution does for a handler path. */
const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

export async function loadHandler(ref: string, root: string = REPO_ROOT): Promise<AnyHandler> {
  installAwslambdaShim();
  const { file, exportName } = parseHandlerRef(ref);
  const base = path.resolve(root, file);
  const found = EXTENSIONS.map((ext) => base + ext).find((f) => existsSync(f));
  if (!found) throw new Error(`handler "${ref}": no file ${file}{${EXTENSIONS.join(',')}} under ${root}`);
  const mod = (await import(pathToFileURL(found).href)) as Record<string, unknown>;
  const fn = mod[exportName];
  if (typeof fn !== 'function') {
    throw new Error(`handler "${ref}": ${path.relative(root, found)} has no exported function "${exportName}"`);
  }
  return fn as AnyHandler;
}

/** A resolver that imports each reference once (module caching makes re-imports cheap anyway). */
export function createHandlerResolver(root: string = REPO_ROOT): HandlerResolver {
  const cache = new Map<string, Promise<AnyHandler>>();
  return (ref) => {
    let p = cache.get(ref);
    if (!p) {
      p = loadHandler(ref, root);
      // A failed import is not cached: the file may be fixed while the runtime runs.
      p.catch(() => cache.delete(ref));
      cache.set(ref, p);
    }
    return p;
  };
}

/** Lambda-style function name for a reference: "functions/facilities.open" -> "compux-local-facilities-open". */
export function functionNameFor(ref: string): string {
  const { file, exportName } = parseHandlerRef(ref);
  const slug = `${file.replace(/^functions\//, '')}-${exportName}`.replace(/[^A-Za-z0-9-_]+/g, '-');
  return `compux-local-${slug}`.slice(0, 64);
}

export function createLambdaContext(opts: { functionName: string; timeoutMs: number; requestId?: string }): Context {
  const requestId = opts.requestId ?? randomUUID();
  const deadline = Date.now() + opts.timeoutMs;
  const unsupported = (name: string) => () => {
    throw new Error(`context.${name}() is the legacy callback API; return a value or a promise instead`);
  };
  const day = nowIso().slice(0, 10).replace(/-/g, '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: opts.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${opts.functionName}`,
    memoryLimitInMB: MEMORY_MB,
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${opts.functionName}`,
    logStreamName: `${day}/[$LATEST]${randomUUID().replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}

/** Lambda's own error type for a function that outlives its timeout. */
export class LambdaTimeoutError extends Error {
  constructor(readonly timeoutSeconds: number) {
    super(`Task timed out after ${timeoutSeconds.toFixed(2)} seconds`);
    this.name = 'Sandbox.Timedout';
  }
}

/**
 * Invokes a (non-streaming) handler like the Node.js runtime: await its promise, or wait for its callback.
 * Rejects with the handler's error, or LambdaTimeoutError past `timeoutMs`. With `grant`, everything the
 * invocation does runs under that function's grant (local/grants.ts withGrant).
 */
export function invokeHandler<T = unknown>(handler: AnyHandler, event: unknown, context: Context, timeoutMs: number, grant?: ResolvedGrant): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err !== null && err !== undefined) reject(toError(err));
      else resolve(value as T);
    };
    const timer = setTimeout(() => finish(new LambdaTimeoutError(timeoutMs / 1000)), timeoutMs);
    timer.unref();
    try {
      const callback = (err?: unknown, value?: unknown) => finish(err, value);
      const out = withGrant(grant, () => handler(event, context, callback));
      if (isThenable(out)) out.then((v) => finish(null, v), (e: unknown) => finish(e ?? new Error('handler rejected')));
      else if (handler.length < 3) finish(null, out); // a sync handler: Lambda takes its return value
    } catch (err) {
      finish(err);
    }
  });
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Lambda reports a thrown non-Error as an error too; keep a real Error so logs have a message. */
export function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' ? err : JSON.stringify(err));
}

/** The log line Lambda writes for a failed invocation (without which a local failure is silent). */
export function logInvokeError(where: string, err: unknown): void {
  const e = toError(err);
  console.error(`[${where}] ERROR Invoke Error ${JSON.stringify({ errorType: e.name, errorMessage: e.message, stack: e.stack?.split('\n') })}`);
}
