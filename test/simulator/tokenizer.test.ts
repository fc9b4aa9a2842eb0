/** The documented tokenizer rule, chat prompt accounting, the fault spec parser and seeded content. */
import { describe, expect, it } from 'vitest';
import { countChatPromptTokens, countTokens, generateTokens, parseFault, tokenize } from '@compux/simulator';

describe('simulator tokenizer', () => {
  it('splits into whitespace-led word pieces of at most 6 characters and single other characters', () => {
    // Act / Assess
    expect(tokenize('Hello, world!')).toEqual(['Hello', ',', ' world', '!']);
    expect(tokenize('internationalization')).toEqual(['intern', 'ationa', 'lizati', 'on']);
    expect(tokenize('  two  spaces  ')).toEqual(['  two', '  spaces', '  ']);
    expect(tokenize('naïve café 42')).toEqual(['naïve', ' café', ' 42']);
    expect(countTokens('')).toBe(0);
    expect(countTokens('Hello, world!')).toBe(4);
    // Pieces always re-join to the text.
    const text = 'Mixed: code(x) => x*2; ünïcödé, 日本語テキスト 👍🏽\n\nend';
    expect(tokenize(text).join('')).toBe(text);
    expect(countTokens(text)).toBe(tokenize(text).length);
  });

  it('counts chat prompts as content tokens + 4 per message + 2', () => {
    // Prepare
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'image_url', image_url: { url: 'x' } }] },
      { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] },
    ];

    // Act
    const n = countChatPromptTokens(messages);

    // Assess: "Be brief." = 3, "Hi" = 1, "f\n{}" = 3 ("f" "\n{" "}")
    expect(n).toBe(3 + 4 + 1 + 4 + 3 + 4 + 2);
  });

  it('generated replies are deterministic, one token per piece, and stable under re-tokenization', () => {
    // Act
    const a = generateTokens(123, 'a prompt about gpus', 300);
    const b = generateTokens(123, 'a prompt about gpus', 300);
    const short = generateTokens(123, 'a prompt about gpus', 20);

    // Assess
    expect(a).toEqual(b);
    expect(a.slice(0, 20)).toEqual(short);
    expect(tokenize(a.join(''))).toEqual(a);
    expect(countTokens(a.join(''))).toBe(300);
  });
});

describe('simulator fault specs', () => {
  it('parses names with positional and named parameters, and refuses unknown ones', () => {
    // Act / Assess
    expect(parseFault('reset_after_frames:3')).toEqual({ name: 'reset_after_frames', k: 3 });
    expect(parseFault('malformed_chunk;k=0')).toEqual({ name: 'malformed_chunk', k: 0 });
    expect(parseFault('rate_limit:5')).toEqual({ name: 'rate_limit', retryAfter: 5 });
    expect(parseFault(' RATE_LIMIT ; retry_after=2 ')).toEqual({ name: 'rate_limit', retryAfter: 2 });
    expect(parseFault('timeout_before_headers;hold_ms=100')).toEqual({ name: 'timeout_before_headers', holdMs: 100 });
    expect(parseFault('http_504')).toEqual({ name: 'http_504', status: 504 });
    expect(() => parseFault('http_404')).toThrow(/unknown fault/);
    expect(() => parseFault('explode')).toThrow(/unknown fault/);
    expect(() => parseFault('reset_after_frames;k=-1')).toThrow(/integer/);
    expect(() => parseFault('rate_limit;colour=red')).toThrow(/unknown parameter/);
  });
});
