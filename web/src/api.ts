/**
 * The one way the pages talk to the API: same origin, the signed-in key from this tab's session storage
 * as a bearer token (never in a URL, never logged), JSON both ways, errors as ApiError with the API's code.
 */
const KEY = 'compux.key';

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  set: (key: string) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly code: string | null) {
    super(message);
  }
}

export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, key = session.key()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  // Money-moving POSTs are idempotent per click: a retried click after a lost reply is not applied twice.
  if (method === 'POST') headers['idempotency-key'] = crypto.randomUUID();
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiError('The API could not be reached. Check your connection and retry.', 0, 'network_error');
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = (json as { error?: { message?: string; code?: string } } | null)?.error;
    throw new ApiError(err?.message ?? `The API answered ${res.status}.`, res.status, err?.code ?? null);
  }
  return json as T;
}

export interface Me {
  role: 'operator' | 'lender' | 'startup' | 'provider';
  tenant_id: string | null;
  key_id: string | null;
  key_name: string | null;
}
