/**
 * The Responses API's translation, without a runtime: what the gateway would write (chat completion replies and
 * chat stream frames, as OpenAI's chat API sends them, tool calls included) through ResponsesSink into a recording
 * sink, and the chat request prepareResponse makes of tools, tool_choice and text.format: the translation of what a
 * real provider sends, pinned frame by frame (the clients' end-to-end runs are in responses-{openai,vercel,langchain}.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { ResponsesSink, prepareResponse, isRefusal, type ResponseShell, type ResponseSink, type ResponseStore, type ResponsesRequest } from '../../packages/core/src/index.js';

const SHELL: ResponseShell = {
  id: 'resp_TEST0000000000000001', created_at: 1_800_000_000, model: 'llama-3.1-70b-instruct', instructions: null, max_output_tokens: null, metadata: {},
  parallel_tool_calls: true, previous_response_id: null, store: true, temperature: 1, top_p: 1, text: { format: { type: 'text' } }, tool_choice: 'auto', tools: [], user: null,
};

/** A client-side sink that keeps what it was given. */
class Recording implements ResponseSink {
  readonly signal = new AbortController().signal;
  status = 0;
  body = '';
  frames: string[] = [];
  ended = false;
  reply(status: number, _headers: Record<string, string>, body: string): void {
    this.status = status;
    this.body = body;
  }
  open(status: number): void {
    this.status = status;
  }
  async write(chunk: string): Promise<boolean> {
    this.frames.push(chunk);
    return true;
  }
  end(): void {
    this.ended = true;
  }
  /** The named events written, parsed. */
  events(): Array<Record<string, any>> {
    return this.frames.filter((f) => f.startsWith('event: ')).map((f) => JSON.parse(f.split('\n')[1]!.slice('data: '.length)));
  }
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
const frame = (c: unknown) => `data: ${JSON.stringify(c)}\n\n`;
const USAGE = { id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 } };

/** OpenAI's chat stream of a reply with text, then two parallel tool calls whose arguments come in pieces. */
const TEXT_THEN_TWO_CALLS = [
  chunk({ role: 'assistant', content: '' }),
  chunk({ content: 'Checking ' }),
  chunk({ content: 'prices.' }),
  chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'spot_price', arguments: '' } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"acc":' } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '"H100"}' } }] }),
  chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'spot_price', arguments: '{"acc":"A100"}' } }] }),
  chunk({}, 'tool_calls'),
  USAGE,
];

async function streamThrough(chunks: unknown[], tail: string[] = ['data: [DONE]\n\n']) {
  const inner = new Recording();
  const sink = new ResponsesSink(inner, SHELL);
  sink.open(200, {});
  for (const c of chunks) await sink.write(frame(c));
  for (const t of tail) await sink.write(t);
  sink.end();
  return { inner, sink };
}

describe('a chat stream retold as the Responses stream', () => {
  it('text then two parallel tool calls: the message closes first, each call streams its arguments, in OpenAI order', async () => {
    // Act
    const { inner } = await streamThrough(TEXT_THEN_TWO_CALLS);
    const events = inner.events();
    // Assess
    expect(events.map((e) => e.type)).toEqual([
      'response.created', 'response.in_progress',
      'response.output_item.added', 'response.content_part.added', 'response.output_text.delta', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta',
      'response.output_item.added', 'response.function_call_arguments.delta',
      'response.function_call_arguments.done', 'response.output_item.done', 'response.function_call_arguments.done', 'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[9]).toMatchObject({ output_index: 1, item: { type: 'function_call', call_id: 'call_a', name: 'spot_price', arguments: '', status: 'in_progress' } });
    expect(events[14]).toMatchObject({ type: 'response.function_call_arguments.done', output_index: 1, arguments: '{"acc":"H100"}' });
  });

  it('response.completed carries the output items and the usage', async () => {
    // Act
    const { inner, sink } = await streamThrough(TEXT_THEN_TWO_CALLS);
    const completed = inner.events().at(-1)!;
    // Assess
    expect(completed.response.output).toEqual([
      { id: 'msg_TEST0000000000000001_0', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Checking prices.', annotations: [], logprobs: [] }] },
      { id: 'fc_TEST0000000000000001_1', type: 'function_call', status: 'completed', call_id: 'call_a', name: 'spot_price', arguments: '{"acc":"H100"}' },
      { id: 'fc_TEST0000000000000001_2', type: 'function_call', status: 'completed', call_id: 'call_b', name: 'spot_price', arguments: '{"acc":"A100"}' },
    ]);
    expect(completed.response.usage).toEqual({ input_tokens: 20, input_tokens_details: { cached_tokens: 0 }, output_tokens: 9, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 29 });
    expect(sink.final).toEqual(completed.response);
  });

  it('tool calls alone: no message item, the first call is output 0', async () => {
    // Act
    const { inner } = await streamThrough(TEXT_THEN_TWO_CALLS.slice(3));
    // Assess
    expect(inner.events().find((e) => e.type === 'response.output_item.added')).toMatchObject({ output_index: 0, item: { type: 'function_call', call_id: 'call_a' } });
    expect(inner.events().at(-1)!.response.output.map((i: { type: string }) => i.type)).toEqual(['function_call', 'function_call']);
  });

  it('an error event mid-stream: the open item closes incomplete and the stream ends with response.failed', async () => {
    // Act
    const { inner, sink } = await streamThrough(TEXT_THEN_TWO_CALLS.slice(0, 3), [
      `data: ${JSON.stringify({ error: { message: 'The provider failed mid-stream (reset); billed for the 2 tokens produced.', type: 'server_error', param: null, code: 'upstream_failed_mid_stream' } })}\n\n`,
      ': compux {"cost_micros":12}\n\n',
    ]);
    const events = inner.events();
    // Assess
    expect(events.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'server_error', message: expect.stringMatching(/mid-stream/) } } });
    expect(events.at(-2)).toMatchObject({ type: 'response.output_item.done', item: { type: 'message', status: 'incomplete' } });
    expect(inner.frames.at(-1)).toBe(': compux {"cost_micros":12}\n\n');
    expect(sink.final?.status).toBe('failed');
    expect(inner.ended).toBe(true);
  });
});

describe('a whole chat.completion retold as a Response', () => {
  it('tool calls become function_call items after the message; finish_reason length makes it incomplete', async () => {
    // Prepare
    const inner = new Recording();
    const sink = new ResponsesSink(inner, SHELL);
    const chat = {
      id: 'chatcmpl-2', object: 'chat.completion', created: 1, model: 'm',
      choices: [{ index: 0, finish_reason: 'length', message: { role: 'assistant', content: 'Let me look.', tool_calls: [{ id: 'call_z', type: 'function', function: { name: 'lookup', arguments: '{}' } }] } }],
      usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12, completion_tokens_details: { reasoning_tokens: 0 } },
    };
    // Act
    sink.reply(200, {}, JSON.stringify(chat));
    const r = JSON.parse(inner.body);
    // Assess
    expect(r).toMatchObject({ object: 'response', id: SHELL.id, status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { input_tokens: 5, output_tokens: 7, total_tokens: 12 } });
    expect(r.output).toEqual([
      { type: 'message', id: 'msg_TEST0000000000000001_0', status: 'incomplete', role: 'assistant', content: [{ type: 'output_text', text: 'Let me look.', annotations: [], logprobs: [] }] },
      { type: 'function_call', id: 'fc_TEST0000000000000001_1', call_id: 'call_z', name: 'lookup', arguments: '{}', status: 'completed' },
    ]);
  });

  it('a refusal passes unchanged (it is already OpenAI’s error shape), and nothing is final', async () => {
    // Prepare
    const inner = new Recording();
    const sink = new ResponsesSink(inner, SHELL);
    const body = JSON.stringify({ error: { message: 'no', type: 'insufficient_quota', param: null, code: 'exceeds_credit' } });
    // Act
    sink.reply(402, {}, body);
    // Assess
    expect(inner).toMatchObject({ status: 402, body });
    expect(sink.final).toBeNull();
  });
});

/** prepareResponse without a previous response or references never reads the store. */
const NO_STORE: ResponseStore = {
  get: async () => { throw new Error('read'); },
  put: async () => { throw new Error('write'); },
  delete: async () => { throw new Error('delete'); },
};

async function chatOf(r: Partial<ResponsesRequest>) {
  const p = await prepareResponse({ model: 'llama-3.1-70b-instruct', input: 'hi', ...r }, { startup_id: 'stu_x', id: SHELL.id, created_at_s: 1, store: NO_STORE });
  if (isRefusal(p)) throw new Error(p.message);
  return p.chat;
}

describe('the chat request a Responses request makes', () => {
  it('function tools, a named tool_choice and parallel_tool_calls become chat’s', async () => {
    // Act
    const chat = await chatOf({
      tools: [{ type: 'function', name: 'spot_price', description: 'Spot price', parameters: { type: 'object', properties: {} }, strict: true }],
      tool_choice: { type: 'function', name: 'spot_price' }, parallel_tool_calls: false,
    });
    // Assess
    expect(chat).toMatchObject({
      tools: [{ type: 'function', function: { name: 'spot_price', description: 'Spot price', parameters: { type: 'object', properties: {} }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'spot_price' } }, parallel_tool_calls: false,
    });
  });

  it('text.format json_schema and json_object become response_format', async () => {
    // Prepare
    const schema = { type: 'object', properties: { price: { type: 'number' } }, required: ['price'] };
    // Act
    const strict = await chatOf({ text: { format: { type: 'json_schema', name: 'quote', schema, strict: true } } });
    const loose = await chatOf({ text: { format: { type: 'json_object' } } });
    const plain = await chatOf({ text: { format: { type: 'text' } } });
    // Assess
    expect(strict.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'quote', schema, strict: true } });
    expect(loose.response_format).toEqual({ type: 'json_object' });
    expect(plain.response_format).toBeUndefined();
  });

  it('max_output_tokens is max_tokens; a stream always asks the provider for its usage', async () => {
    // Act
    const chat = await chatOf({ max_output_tokens: 64, stream: true, temperature: 0.2, user: 'u1' });
    // Assess
    expect(chat).toMatchObject({ max_tokens: 64, stream: true, stream_options: { include_usage: true }, temperature: 0.2, user: 'u1' });
  });
});
