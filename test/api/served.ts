/** One chat request of a startup, served and recorded: its x-request-id, once GET /v1/requests/{id} finds it (the record lands just after the reply). */
import { expect } from 'vitest';
import { client } from './client.js';

export async function servedRequest(baseUrl: string, key: string, content = 'hi'): Promise<string> {
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'llama-3.1-70b-instruct', messages: [{ role: 'user', content }], max_tokens: 4 }),
  });
  expect(res.status).toBe(200);
  await res.text();
  const id = res.headers.get('x-request-id')!;
  await recordedRequest(baseUrl, key, id);
  return id;
}

/** GET /v1/requests/{id} until the record is there (up to 5 s), and its last reply. */
export const recordedRequest = (baseUrl: string, key: string, id: string) => foundLater(baseUrl, key, `/v1/requests/${id}`);

/** GET `path` until it is no longer a 404 (up to 5 s): for what is written just after a reply. Its last reply. */
export async function foundLater(baseUrl: string, key: string, path: string) {
  const call = client(baseUrl);
  let r = await call('GET', path, { key });
  for (let i = 0; r.status === 404 && i < 50; i++) {
    await new Promise((res) => setTimeout(res, 100));
    r = await call('GET', path, { key });
  }
  return r;
}
