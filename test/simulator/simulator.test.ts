/**
 * The provider simulator seen through the official `openai` client (v7): response shapes, token accounting,
 * max_tokens, every fault as the client observes it, pacing lower bounds, bounds (413, 503, 401) and a clean stop().
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { type APIError, type RateLimitError } from 'openai';
import { countChatPromptTokens, countTokens, startSimulator, type Simulator } from '@compux/simulator';

const CHAT = 'llama-3.1-70b-instruct';
const EMBED = 'text-embedding-3-small';

function client(sim: Simulator, opts: { apiKey?: string; timeout?: number } = {}): OpenAI {
  return new OpenAI({ apiKey: opts.apiKey ?? 'sk-test', baseURL: sim.url + '/v1', maxRetries: 0, timeout: opts.timeout ?? 10_000, logLevel: 'off' });
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** Drains a stream; returns the chunks read and the error that ended it, if any. */
async function drain<T>(stream: AsyncIterable<T>): Promise<{ chunks: T[]; error: unknown }> {
  const chunks: T[] = [];
  try {
    for await (const c of stream) chunks.push(c);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks, error: undefined };
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const messages = [
  { role: 'system' as const, content: 'You are a helpful assistant.' },
  { role: 'user' as const, content: 'Explain GPU credit markets, briefly!' },
];

describe('simulator: OpenAI-compatible endpoints', () => {
  let sim: Simulator;
  let ai: OpenAI;
  beforeAll(async () => {
    sim = await startSimulator({ completionTokens: 24, seed: 7 });
    ai = client(sim);
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('lists and retrieves models; an unknown model is 404 model_not_found', async () => {
    // Act
    const list = await ai.models.list();
    const one = await ai.models.retrieve(CHAT);
    const missing = await caught(ai.models.retrieve('no-such-model'));
    const chatMissing = await caught(ai.chat.completions.create({ model: 'no-such-model', messages }));

    // Assess
    expect(list.data.map((m) => m.id)).toEqual([CHAT, EMBED]);
    expect(list.data[0]).toMatchObject({ object: 'model', owned_by: 'compux-simulator', max_model_len: 131072 });
    expect(one).toMatchObject({ id: CHAT, object: 'model' });
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(chatMissing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((chatMissing as APIError).code).toBe('model_not_found');
    expect((chatMissing as APIError).type).toBe('invalid_request_error');
  });

  it('chat: a plain reply has OpenAI shape and usage counted by the documented tokenizer', async () => {
    // Act
    const r = await ai.chat.completions.create({ model: CHAT, messages });

    // Assess
    expect(r.id).toMatch(/^chatcmpl-/);
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe(CHAT);
    expect(typeof r.created).toBe('number');
    expect(r.choices).toHaveLength(1);
    const content = r.choices[0]?.message.content ?? '';
    expect(r.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', message: { role: 'assistant' } });
    expect(r.usage).toEqual({
      prompt_tokens: countChatPromptTokens(messages),
      completion_tokens: 24,
      total_tokens: countChatPromptTokens(messages) + 24,
    });
    expect(countTokens(content)).toBe(24);
    // 4 per message + 2 priming, over the documented pieces.
    expect(countChatPromptTokens(messages)).toBe(4 + countTokens(messages[0]!.content) + 4 + countTokens(messages[1]!.content) + 2);
  });

  it('chat: the streamed reply (include_usage) carries the same text and usage as the plain one', async () => {
    // Prepare
    const plain = await ai.chat.completions.create({ model: CHAT, messages });

    // Act
    const stream = await ai.chat.completions.create({ model: CHAT, messages, stream: true, stream_options: { include_usage: true } });
    const { chunks, error } = await drain(stream);

    // Assess
    expect(error).toBeUndefined();
    expect(chunks[0]?.object).toBe('chat.completion.chunk');
    expect(chunks[0]?.id).toMatch(/^chatcmpl-/);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(plain.choices[0]?.message.content);
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish.map((c) => c.choices[0]?.finish_reason)).toEqual(['stop']);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(plain.usage);
    // Counting from content gives the provider's own figure (what the marketplace does when usage is missing).
    expect(countTokens(text)).toBe(last.usage?.completion_tokens);
    // Without include_usage there is no usage chunk.
    const bare = await drain(await ai.chat.completions.create({ model: CHAT, messages, stream: true }));
    expect(bare.chunks.some((c) => c.usage)).toBe(false);
  });

  it('max_tokens and max_completion_tokens cut the reply with finish_reason length, plain and streamed', async () => {
    // Prepare
    const full = await ai.chat.completions.create({ model: CHAT, messages });

    // Act
    const cut = await ai.chat.completions.create({ model: CHAT, messages, max_tokens: 5 });
    const cut2 = await ai.chat.completions.create({ model: CHAT, messages, max_completion_tokens: 7 });
    const streamed = await drain(
      await ai.chat.completions.create({ model: CHAT, messages, max_tokens: 5, stream: true, stream_options: { include_usage: true } }),
    );
    const roomy = await ai.chat.completions.create({ model: CHAT, messages, max_tokens: 500 });
    const tooBig = await caught(ai.chat.completions.create({ model: CHAT, messages, max_tokens: 200_000 }));

    // Assess
    expect(cut.usage?.completion_tokens).toBe(5);
    expect(cut.choices[0]?.finish_reason).toBe('length');
    expect(full.choices[0]?.message.content?.startsWith(cut.choices[0]?.message.content ?? 'x')).toBe(true);
    expect(cut2.usage?.completion_tokens).toBe(7);
    expect(streamed.chunks.at(-1)?.usage?.completion_tokens).toBe(5);
    expect(streamed.chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(cut.choices[0]?.message.content);
    expect(streamed.chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe('length');
    expect(roomy.choices[0]?.finish_reason).toBe('stop');
    expect(tooBig).toBeInstanceOf(OpenAI.BadRequestError);
    expect((tooBig as APIError).code).toBe('context_length_exceeded');
  });

  it('completions: plain and streamed agree; several prompts and n give indexed choices', async () => {
    // Act
    const plain = await ai.completions.create({ model: CHAT, prompt: 'Once upon a time', max_tokens: 10 });
    const streamed = await drain(
      await ai.completions.create({ model: CHAT, prompt: 'Once upon a time', max_tokens: 10, stream: true, stream_options: { include_usage: true } }),
    );
    const many = await ai.completions.create({ model: CHAT, prompt: ['one', 'two'], n: 2, max_tokens: 3 });

    // Assess
    expect(plain.id).toMatch(/^cmpl-/);
    expect(plain.object).toBe('text_completion');
    expect(plain.choices[0]).toMatchObject({ index: 0, finish_reason: 'length', logprobs: null });
    expect(plain.usage).toEqual({ prompt_tokens: countTokens('Once upon a time'), completion_tokens: 10, total_tokens: countTokens('Once upon a time') + 10 });
    expect(streamed.error).toBeUndefined();
    expect(streamed.chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe(plain.choices[0]?.text);
    expect(streamed.chunks.at(-1)?.usage).toEqual(plain.usage);
    expect(many.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(many.usage?.completion_tokens).toBe(12);
    expect(many.usage?.prompt_tokens).toBe(2);
  });

  it('embeddings: deterministic unit vectors; float and base64 carry the same numbers; dimensions honoured', async () => {
    // Act
    const dflt = await ai.embeddings.create({ model: EMBED, input: ['hello world', 'goodbye'] }); // base64 on the wire, decoded by the client
    const float = await ai.embeddings.create({ model: EMBED, input: ['hello world', 'goodbye'], encoding_format: 'float' });
    const b64 = await ai.embeddings.create({ model: EMBED, input: 'hello world', encoding_format: 'base64' });
    const small = await ai.embeddings.create({ model: EMBED, input: 'hello world', dimensions: 256, encoding_format: 'float' });
    const wrong = await caught(ai.embeddings.create({ model: CHAT, input: 'x' }));

    // Assess
    expect(float.object).toBe('list');
    expect(float.data.map((d) => [d.object, d.index, d.embedding.length])).toEqual([
      ['embedding', 0, 1536],
      ['embedding', 1, 1536],
    ]);
    expect(dflt.data[0]?.embedding).toEqual(float.data[0]?.embedding);
    expect(dflt.data[0]?.embedding).not.toEqual(float.data[1]?.embedding);
    const raw = Buffer.from(b64.data[0]?.embedding as unknown as string, 'base64');
    expect(Array.from(new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4))).toEqual(float.data[0]?.embedding);
    const norm = Math.hypot(...(float.data[0]?.embedding ?? []));
    expect(norm).toBeCloseTo(1, 4);
    expect(small.data[0]?.embedding).toHaveLength(256);
    expect(Math.hypot(...(small.data[0]?.embedding ?? []))).toBeCloseTo(1, 4);
    const inputTokens = countTokens('hello world') + countTokens('goodbye'); // 2 + 2 ('goodby' 'e')
    expect(float.usage).toEqual({ prompt_tokens: inputTokens, total_tokens: inputTokens });
    expect(wrong).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('errors are in OpenAI shape: bad request 400, unknown route 404, oversized body 413', async () => {
    // Act
    const empty = await caught(ai.chat.completions.create({ model: CHAT, messages: [] }));
    const route = await fetch(sim.url + '/v1/nothing-here', { method: 'POST', body: '{}' });
    const big = await caught(ai.chat.completions.create({ model: CHAT, messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024 + 10) }] }));
    const notJson = await fetch(sim.url + '/v1/chat/completions', { method: 'POST', body: '{oops' });

    // Assess
    expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
    expect(empty).toMatchObject({ status: 400, type: 'invalid_request_error', param: 'messages' });
    expect(route.status).toBe(404);
    expect(await route.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'unknown_url' } });
    expect(big).toBeInstanceOf(OpenAI.APIError);
    expect((big as APIError).status).toBe(413);
    expect((big as APIError).code).toBe('request_too_large');
    expect(notJson.status).toBe(400);
  });
});

describe('simulator: faults as the client sees them', () => {
  let sim: Simulator;
  let ai: OpenAI;
  const streamBody = { model: CHAT, messages, stream: true as const, stream_options: { include_usage: true } };
  const fault = (spec: string) => ({ headers: { 'x-sim-fault': spec } });
  beforeAll(async () => {
    sim = await startSimulator({ completionTokens: 12, seed: 11 });
    ai = client(sim);
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('http_500 / http_502 / http_503 surface as server errors', async () => {
    for (const status of [500, 502, 503]) {
      // Act
      const e = await caught(ai.chat.completions.create({ model: CHAT, messages }, fault(`http_${status}`)));

      // Assess
      expect(e).toBeInstanceOf(OpenAI.InternalServerError);
      expect(e).toMatchObject({ status, type: 'server_error' });
    }
    expect(sim.stats().byFault).toMatchObject({ http_500: 1, http_502: 1, http_503: 1 });
  });

  it('rate_limit: 429 with Retry-After and a rate-limit error body', async () => {
    // Act
    const e = await caught(ai.chat.completions.create({ model: CHAT, messages }, fault('rate_limit;retry_after=7')));
    const dflt = await caught(ai.embeddings.create({ model: EMBED, input: 'x' }, fault('rate_limit')));

    // Assess
    expect(e).toBeInstanceOf(OpenAI.RateLimitError);
    const err = e as RateLimitError;
    expect(err.headers.get('retry-after')).toBe('7');
    expect(err.code).toBe('rate_limit_exceeded');
    expect(err.type).toBe('requests');
    expect((dflt as RateLimitError).headers.get('retry-after')).toBe('1');
  });

  it('timeout_before_headers: the client times out; the held socket is released when the client gives up', async () => {
    // Prepare
    const impatient = client(sim, { timeout: 300 });
    sim.resetStats();

    // Act
    const started = Date.now();
    const e = await caught(impatient.chat.completions.create({ model: CHAT, messages }, fault('timeout_before_headers')));

    // Assess
    expect(e).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await until(() => sim.stats().abortedBeforeReply === 1);
    expect(sim.stats().byStatus).toEqual({ none: 1 });
  });

  it('timeout_before_headers: the simulator itself closes the socket after hold_ms', async () => {
    // Act
    const started = Date.now();
    const e = await caught(ai.chat.completions.create({ model: CHAT, messages }, fault('timeout_before_headers;hold_ms=200')));

    // Assess
    expect(e).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(e).not.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
  });

  it('reset_after_frames:k: k chunks arrive, then the stream fails; a plain reply is cut mid-body', async () => {
    // Prepare
    sim.resetStats();

    // Act
    const { chunks, error } = await drain(await ai.chat.completions.create(streamBody, fault('reset_after_frames:3')));
    const plain = await caught(ai.chat.completions.create({ model: CHAT, messages }, fault('reset_after_frames')));
    const atOnce = await drain(await ai.chat.completions.create(streamBody, fault('reset_after_frames:0')));

    // Assess
    expect(chunks).toHaveLength(3);
    expect(error).toBeInstanceOf(Error);
    expect(plain).toBeInstanceOf(Error);
    expect(atOnce.chunks).toHaveLength(0);
    expect(atOnce.error).toBeInstanceOf(Error);
    await until(() => sim.stats().streams.reset === 2);
    // The role frame carries no token: 2 content tokens went out before the reset.
    expect(sim.stats().tokens.completion).toBe(2 + 12);
  });

  it('stream_without_usage: the stream ends cleanly with no usage; content still counts to the real figure', async () => {
    // Prepare
    const plain = await ai.chat.completions.create({ model: CHAT, messages });

    // Act
    const { chunks, error } = await drain(await ai.chat.completions.create(streamBody, fault('stream_without_usage')));

    // Assess
    expect(error).toBeUndefined();
    expect(chunks.some((c) => c.usage)).toBe(false);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(countTokens(text)).toBe(plain.usage?.completion_tokens);
  });

  it('stream_without_done: the stream ends without [DONE] (usage still sent); the client sees a normal end', async () => {
    // Act
    const { chunks, error } = await drain(await ai.chat.completions.create(streamBody, fault('stream_without_done')));
    const raw = await fetch(sim.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sim-fault': 'stream_without_done' },
      body: JSON.stringify(streamBody),
    });
    const text = await raw.text();

    // Assess
    expect(error).toBeUndefined();
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(12);
    expect(raw.headers.get('x-sim-fault-applied')).toBe('stream_without_done');
    expect(text).toContain('"usage":{');
    expect(text).not.toContain('[DONE]');
    const withDone = await (await fetch(sim.url + '/v1/chat/completions', { method: 'POST', body: JSON.stringify(streamBody) })).text();
    expect(withDone.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('malformed_chunk: valid chunks, then a frame that is not JSON surfaces as an error', async () => {
    // Act
    const { chunks, error } = await drain(await ai.chat.completions.create(streamBody, fault('malformed_chunk;k=2')));
    const plain = await caught(ai.chat.completions.create({ model: CHAT, messages }, fault('malformed_chunk')));

    // Assess
    expect(chunks).toHaveLength(2);
    expect(error).toBeInstanceOf(SyntaxError);
    expect(plain).toBeInstanceOf(Error);
  });

  it('instance-wide faults, a per-request "none", unknown faults refused, probability mode', async () => {
    // Prepare
    sim.setOptions({ fault: 'http_503' });

    // Act
    const always = await caught(ai.chat.completions.create({ model: CHAT, messages }));
    const spared = await ai.chat.completions.create({ model: CHAT, messages }, fault('none'));
    const models = await ai.models.list();
    const typo = await caught(ai.chat.completions.create({ model: CHAT, messages }, fault('explode')));
    sim.setOptions({ fault: null, faultRates: { 'rate_limit;retry_after=3': 0.5 }, seed: 42 });
    sim.resetStats();
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, () =>
        ai.chat.completions.create({ model: CHAT, messages, max_tokens: 1 }).then(
          () => 200,
          (e: APIError) => e.status,
        ),
      ),
    );
    sim.setOptions({ faultRates: {} });

    // Assess
    expect(always).toMatchObject({ status: 503 });
    expect(spared.choices).toHaveLength(1);
    expect(models.data.length).toBeGreaterThan(0); // the models listing is not an inference route
    expect(typo).toBeInstanceOf(OpenAI.BadRequestError);
    expect((typo as APIError).code).toBe('invalid_fault');
    const limited = outcomes.filter((s) => s === 429).length;
    expect(limited).toBeGreaterThan(5);
    expect(limited).toBeLessThan(35);
    expect(outcomes.filter((s) => s === 200).length).toBe(40 - limited);
    expect(sim.stats().byFault.rate_limit).toBe(limited);
  });
});

describe('simulator: timing, bounds, auth, stop', () => {
  it('paces streams (ttft, tokens per second) and delays plain replies (loose lower bounds)', async () => {
    // Prepare
    const sim = await startSimulator({ ttftMs: 100, tokensPerSecond: 100, completionTokens: 20 });
    const ai = client(sim);
    try {
      // Act
      const t0 = performance.now();
      const stream = await ai.chat.completions.create({ model: CHAT, messages, stream: true });
      let firstContent = 0;
      let frames = 0;
      for await (const c of stream) {
        if (c.choices[0]?.delta.content && !firstContent) firstContent = performance.now() - t0;
        if (c.choices[0]?.delta.content) frames++;
      }
      const streamMs = performance.now() - t0;
      const t1 = performance.now();
      await ai.chat.completions.create({ model: CHAT, messages });
      const plainMs = performance.now() - t1;
      const t2 = performance.now();
      const batched = await drain(await ai.chat.completions.create({ model: CHAT, messages, stream: true }, { headers: { 'x-sim-tokens-per-frame': '5', 'x-sim-tps': '200' } }));
      const batchedMs = performance.now() - t2;

      // Assess: ttft 100 ms, then 19 more tokens at 10 ms each; plain waits ttft + 20 / 100 s.
      expect(frames).toBe(20);
      expect(firstContent).toBeGreaterThanOrEqual(90);
      expect(streamMs).toBeGreaterThanOrEqual(260);
      expect(plainMs).toBeGreaterThanOrEqual(270);
      expect(batched.chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(4);
      expect(batchedMs).toBeGreaterThanOrEqual(100 + 90);
    } finally {
      await sim.stop();
    }
  });

  it('bounds concurrent streams (503 + Retry-After) and counts a client abort and the tokens actually sent', async () => {
    // Prepare
    const sim = await startSimulator({ maxConcurrentStreams: 1, tokensPerSecond: 50, completionTokens: 100 });
    const ai = client(sim);
    try {
      const first = await ai.chat.completions.create({ model: CHAT, messages, stream: true });
      const it1 = first[Symbol.asyncIterator]();
      await it1.next();
      await it1.next();

      // Act
      const second = await caught(ai.chat.completions.create({ model: CHAT, messages, stream: true }));
      first.controller.abort();
      await until(() => sim.stats().streams.abortedByClient === 1);

      // Assess
      expect(second).toBeInstanceOf(OpenAI.InternalServerError);
      expect(second).toMatchObject({ status: 503, code: 'overloaded' });
      expect((second as APIError).headers?.get('retry-after')).toBe('1');
      const s = sim.stats();
      expect(s.streams).toMatchObject({ started: 1, completed: 0, abortedByClient: 1, active: 0 });
      expect(s.tokens.completion).toBeGreaterThan(0);
      expect(s.tokens.completion).toBeLessThan(100);
      const after = await drain(await ai.chat.completions.create({ model: CHAT, messages, stream: true, max_tokens: 2 }));
      expect(after.error).toBeUndefined();
    } finally {
      await sim.stop();
    }
  });

  it('auth: an expected bearer token, or a verify function; anything else is 401', async () => {
    // Prepare
    const sim = await startSimulator({ apiKey: 'sk-provider' });
    try {
      // Act
      const ok = await client(sim, { apiKey: 'sk-provider' }).models.list();
      const wrong = await caught(client(sim, { apiKey: 'sk-other' }).chat.completions.create({ model: CHAT, messages }));
      const none = await fetch(sim.url + '/v1/models');
      sim.setOptions({ verifyToken: (t) => t.startsWith('relay.') && t.endsWith('.signed') });
      const relayed = await client(sim, { apiKey: 'relay.abc.signed' }).chat.completions.create({ model: CHAT, messages });
      const forged = await caught(client(sim, { apiKey: 'relay.abc.forged' }).models.list());

      // Assess
      expect(ok.data.length).toBe(2);
      expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((wrong as APIError).code).toBe('invalid_api_key');
      expect(none.status).toBe(401);
      expect(relayed.choices).toHaveLength(1);
      expect(forged).toBeInstanceOf(OpenAI.AuthenticationError);
    } finally {
      await sim.stop();
    }
  });

  it('stop() closes held requests, live streams and idle connections, and leaves no handle open', async () => {
    // Prepare
    const handles = (kind = 'TCP') => process.getActiveResourcesInfo().filter((r) => r.startsWith(kind)).length;
    const before = handles();
    const listenersBefore = handles('TCPServerWrap');
    const sim = await startSimulator({ tokensPerSecond: 20, completionTokens: 1000 });
    const ai = client(sim);
    await ai.models.list(); // leaves an idle keep-alive connection
    const held = caught(ai.chat.completions.create({ model: CHAT, messages }, { headers: { 'x-sim-fault': 'timeout_before_headers' } }));
    const live = await ai.chat.completions.create({ model: CHAT, messages, stream: true });
    const reading = drain(live);
    await until(() => sim.stats().streams.active === 1 && sim.stats().openConnections >= 2);

    // Act
    const t0 = Date.now();
    await sim.stop();
    const stoppedMs = Date.now() - t0;
    const listenersAfter = handles('TCPServerWrap');

    // Assess
    expect(stoppedMs).toBeLessThan(5000); // not the 30 s hold, not the 50 s stream
    expect(listenersAfter).toBe(listenersBefore);
    expect(await held).toBeInstanceOf(OpenAI.APIConnectionError);
    const streamEnd = await reading;
    expect(streamEnd.error).toBeInstanceOf(Error);
    expect(sim.stats().openConnections).toBe(0);
    expect(sim.stats().streams.active).toBe(0);
    expect(await caught(fetch(sim.url + '/v1/models'))).toBeInstanceOf(TypeError);
    await until(() => handles() <= before);
  });
});
