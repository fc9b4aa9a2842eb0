/**
 * The one port every AWS SDK client a handler uses goes through when it is created: the DynamoDB document
 * client (./dynamodb/index.ts documentClient), the functions' SQS and Step Functions clients
 * (functions/lib/deps.ts) and the KMS client of the relay key-encryption key (./kek/kms.ts). guardClient() adds one SDK middleware that shows each call, before it is signed or
 * sent, to the call guards registered in this process.
 *
 * On AWS none is registered (IAM enforces each function's grants) and the middleware does nothing. The local
 * runtime registers one (local/grants.ts) that checks the call against the grant of the handler invocation in
 * progress, so a call outside a function's row fails with AccessDenied as it would on AWS.
 */

/** The services handlers call, by their IAM prefix. */
export type AwsService = 'dynamodb' | 'sqs' | 'states' | 'kms';

/** One SDK call as the guard sees it: the operation ("GetItem") and its input. */
export interface AwsCall {
  service: AwsService;
  operation: string;
  input: Record<string, unknown>;
}

/** Throws to refuse the call (the SDK then rejects with that error, sending nothing). */
export type CallGuard = (call: AwsCall) => void;

const guards: CallGuard[] = [];

/** Registers a guard for every guarded client, including ones created before; returns its removal. */
export function registerCallGuard(guard: CallGuard): () => void {
  if (!guards.includes(guard)) guards.push(guard);
  return () => {
    const i = guards.indexOf(guard);
    if (i >= 0) guards.splice(i, 1);
  };
}

/**
 * Shows the guards a call that goes through no SDK client: the local runtime's key-encryption key
 * (adapters/kek/file.ts) does KMS's work in-process and asks here first, as KMS asks IAM.
 */
export function checkCall(call: AwsCall): void {
  for (const guard of guards) guard(call);
}

/** The part of an SDK v3 client this needs. */
export interface GuardableClient {
  middlewareStack: {
    add(middleware: never, options: { step: 'initialize'; name: string; priority: 'high' }): void;
  };
}

export const CALL_GUARD_MIDDLEWARE = 'compuxCallGuard';

/**
 * Adds the call-guard middleware to a new client and returns the client. It runs at the initialize step,
 * before the retry middleware: a refused call is never retried and never reaches the network.
 */
export function guardClient<C extends GuardableClient>(client: C, service: AwsService): C {
  const middleware =
    (next: (args: { input: Record<string, unknown> }) => Promise<unknown>, context: { commandName?: string }) =>
    async (args: { input: Record<string, unknown> }) => {
      if (guards.length > 0) {
        const operation = (context.commandName ?? '').replace(/Command$/, '');
        for (const guard of guards) guard({ service, operation, input: args.input });
      }
      return next(args);
    };
  client.middlewareStack.add(middleware as never, { step: 'initialize', name: CALL_GUARD_MIDDLEWARE, priority: 'high' });
  return client;
}
