/**
 * Shared constants and small helpers of the local runtime: the fake account, region and credentials
 * every local engine uses, the repo root, and free-port selection.
 *
 * The fake credentials are deliberate: the runtime points the SDK at local endpoints, and forcing
 * fake keys guarantees that a call to a service we forgot to redirect fails loudly instead of
 * reaching a real AWS account with a developer's real credentials.
 */
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '123456789012';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** The repository root (this file lives in <root>/local). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Loopback only by default: nothing local is meant to be reachable from the network. */
export const LOCAL_HOST = '127.0.0.1';

/** Asks the OS for a free TCP port on the loopback interface. Small race window: callers that spawn a process retry on bind failure. */
export function freePort(host: string = LOCAL_HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not obtain a free port'))));
    });
  });
}

/**
 * Sets the environment every AWS SDK v3 client needs to reach the local engines: region and fake
 * credentials (overwriting any real ones: see the file comment) and whichever service-specific
 * endpoints are given (AWS_ENDPOINT_URL_<SERVICE>, read by the SDK itself, so handler code is unchanged).
 */
export function setLocalAwsEnv(endpoints: { dynamodb?: string; sqs?: string; sfn?: string } = {}): void {
  process.env.AWS_REGION = LOCAL_REGION;
  process.env.AWS_DEFAULT_REGION = LOCAL_REGION;
  process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  if (endpoints.dynamodb) process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoints.dynamodb;
  if (endpoints.sqs) process.env.AWS_ENDPOINT_URL_SQS = endpoints.sqs;
  if (endpoints.sfn) process.env.AWS_ENDPOINT_URL_SFN = endpoints.sfn;
}

/** Client config for the runtime's own SDK clients (not the handlers'): explicit, so it never depends on ambient env. */
export function localClientConfig(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A request body over its limit: the caller answers 413 (or its protocol's equivalent). */
export class BodyTooLarge extends Error {
  override name = 'BodyTooLarge';
}

/** Reads a request body, refusing it as soon as it (or its declared length) passes `limit` bytes. */
export function readBody(req: import('node:http').IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new BodyTooLarge());
      } else chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
