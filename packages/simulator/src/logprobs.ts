/**
 * Log probabilities for the simulated tokens, in OpenAI's two shapes: chat (`logprobs: true` and
 * `top_logprobs` 0–20: `{ content: [{ token, logprob, bytes, top_logprobs: [...] }], refusal: null }`) and
 * legacy completions (`logprobs` 0–5: `{ tokens, token_logprobs, top_logprobs: [{ token: logprob }], text_offset }`).
 * Deterministic per (seed, token position), and coherent: the chosen token is the most likely one, the
 * alternatives are less likely in order, and their probabilities sum to less than 1.
 */
import { rng } from './generate.js';

export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface TokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

const ALTERNATIVES = [
  ...'the a of to and in is it that for on with as by at from this be are was can will not all but one new more time data model token'
    .split(' ')
    .map((w) => ' ' + w),
  ',', '.', ';', ':',
];

const bytesOf = (token: string): number[] => [...Buffer.from(token, 'utf8')];
/** Rounded as OpenAI's are read (float32-ish precision is enough; short JSON). */
const round = (x: number): number => Math.round(x * 1e6) / 1e6;

/** `top` alternatives for `token` (0–20): the token itself first, then others each at most half as likely. */
function topFor(token: string, logprob: number, top: number, random: () => number): TopLogprob[] {
  const out: TopLogprob[] = [];
  if (top <= 0) return out;
  out.push({ token, logprob, bytes: bytesOf(token) });
  const rest = 1 - Math.exp(logprob);
  const used = new Set([token]);
  let share = 0.5;
  for (let i = 0; out.length < top && i < ALTERNATIVES.length * 2; i++) {
    const alt = ALTERNATIVES[Math.floor(random() * ALTERNATIVES.length)]!;
    if (used.has(alt)) continue;
    used.add(alt);
    // Each next alternative takes at most half of what is left: the sum stays under 1, the order descending.
    const p = Math.max(rest * share * (0.5 + 0.5 * random()), 1e-12);
    share /= 2;
    out.push({ token: alt, logprob: round(Math.min(Math.log(p), logprob - 1e-6 * out.length)), bytes: bytesOf(alt) });
  }
  return out;
}

/** Chat logprobs of `tokens` (the choice's content pieces), `top` alternatives each. */
export function chatLogprobs(seed: number, tokens: readonly string[], top: number): TokenLogprob[] {
  return tokens.map((token, i) => {
    const random = rng((seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
    // The chosen token is likely: probability between about 0.5 and 1.
    const logprob = round(-0.7 * random());
    return { token, logprob, bytes: bytesOf(token), top_logprobs: topFor(token, logprob, top, random) };
  });
}

/** The legacy completions shape for a run of tokens starting at character `offset` of the choice's text. */
export interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Array<Record<string, number>>;
  text_offset: number[];
}

export function legacyLogprobs(entries: readonly TokenLogprob[], offset: number): LegacyLogprobs {
  const out: LegacyLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let at = offset;
  for (const e of entries) {
    out.tokens.push(e.token);
    out.token_logprobs.push(e.logprob);
    out.top_logprobs.push(Object.fromEntries(e.top_logprobs.map((t) => [t.token, t.logprob])));
    out.text_offset.push(at);
    at += e.token.length;
  }
  return out;
}
