/** Reading a provider's reply with bounds: on size (whole replies) and on silence (stream events). */

/** Largest non-streamed provider reply read into memory. */
export const MAX_UPSTREAM_BODY_BYTES = 16 * 1024 * 1024;
/** Largest error body read from a provider that refused (its message is passed on, the rest dropped). */
export const MAX_UPSTREAM_ERROR_BYTES = 64 * 1024;

/** Why one attempt failed. Thrown inside an attempt; the failover loop decides what it means. */
export class AttemptFailed extends Error {
  constructor(
    readonly kind: 'timeout' | 'connection' | 'status' | 'malformed' | 'aborted',
    message: string,
    readonly status?: number,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export async function readAll(body: AsyncIterable<Uint8Array>, limitBytes: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let sizeBytes = 0;
  for await (const c of body) {
    sizeBytes += c.byteLength;
    if (sizeBytes > limitBytes) throw new AttemptFailed('malformed', `provider reply over ${limitBytes} bytes`);
    parts.push(c);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Races one step of an iterator against a timer; the timer is always cleared. */
export async function nextWithin<T>(it: AsyncIterator<T>, ms: number, what: string): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new AttemptFailed('timeout', `no ${what} from the provider within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long the end of a provider's body may take to arrive after its [DONE] before the connection is dropped. */
export const AFTER_DONE_MS = 1_000;
/** After [DONE]: what is read of a provider's stream to its end, at most (a well-behaved one sends only its end). */
const MAX_EVENTS_AFTER_DONE = 4;

/**
 * Reads a provider's stream to its end after [DONE], so its keep-alive connection goes back to the pool for
 * the next request instead of being destroyed with the unread end of the body (every stream then cost a new
 * connection: a connect, and the provider's accept, in front of the next request's first token). Bounded by
 * `ms` and MAX_EVENTS_AFTER_DONE; whatever happens, `abort` is called at the end (a no-op once the body ended).
 */
export async function drainAfterDone(events: AsyncIterator<string>, abort: AbortController, ms: number): Promise<void> {
  try {
    for (let i = 0; i < MAX_EVENTS_AFTER_DONE; i++) if ((await nextWithin(events, ms, 'end after [DONE]')).done) return;
  } catch {
    // a failure after [DONE] changes nothing of the reply; the connection is dropped below
  } finally {
    abort.abort();
  }
}

/** The next chunk of a provider's chat stream; null at its end ([DONE], or the body ending). Throws AttemptFailed. */
export async function nextChunk(events: AsyncIterator<string>, ms: number, what: string): Promise<Record<string, unknown> | null> {
  const next = await nextWithin(events, ms, what);
  if (next.done || next.value.trim() === '[DONE]') return null; // ended without [DONE]: what came is what was produced
  let chunk: unknown;
  try {
    chunk = JSON.parse(next.value);
  } catch {
    throw new AttemptFailed('malformed', 'a stream event is not JSON');
  }
  if (!chunk || typeof chunk !== 'object' || Array.isArray(chunk)) throw new AttemptFailed('malformed', 'a stream event is not an object');
  if ('error' in chunk) throw new AttemptFailed('status', 'the provider sent an error event');
  return chunk as Record<string, unknown>;
}
