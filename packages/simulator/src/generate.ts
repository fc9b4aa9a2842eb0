/**
 * Deterministic content: completion text and embedding vectors are pure functions of the request
 * (model, prompt, choice index, `seed`), so a plain and a streamed request get the same text, and a
 * shorter `max_tokens` gets a prefix of the longer reply.
 */
import { createHash } from 'node:crypto';
import { MAX_WORD_PIECE } from './tokenizer.js';

/** A 32-bit seed from any strings (SHA-256, first 4 bytes). */
export function seedFrom(...parts: string[]): number {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\u0000');
  return h.digest().readUInt32LE(0);
}

/** mulberry32: a small, fast, seeded PRNG giving floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCAB = (
  'the a of to and in is it that for on with as by at from this be are was can will not all but ' +
  'one new more time data model token gpu node rack power cost price fast small large each step ' +
  'load batch cache layer weight query reply stream market credit share train serve run used any ' +
  'when then also just very well good clear state value order point'
).split(' ');

const SINGLE_PIECE_WORD = new RegExp(`^[\\p{L}\\p{N}]{1,${MAX_WORD_PIECE}}$`, 'u');

/** Words of the prompt that are one token each (letters/digits, at most 6): mixed into the reply. */
function promptWords(prompt: string): string[] {
  const seen = new Set<string>();
  for (const w of prompt.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (w && SINGLE_PIECE_WORD.test(w)) seen.add(w);
    if (seen.size >= 64) break;
  }
  return [...seen];
}

/**
 * `count` token pieces of a deterministic reply to `prompt`. Each piece is exactly one token under the
 * tokenizer rule: a word of at most 6 letters (with a leading space except the first), "," or ".".
 * Sentences start with a capital and end with "."; commas come now and then.
 */
export function generateTokens(seed: number, prompt: string, count: number): string[] {
  const random = rng(seed);
  const own = promptWords(prompt);
  const out: string[] = [];
  let sentenceStart = true;
  let wordsInSentence = 0;
  let sentenceLength = 6 + Math.floor(random() * 10);
  while (out.length < count) {
    if (wordsInSentence >= sentenceLength) {
      out.push('.');
      sentenceStart = true;
      wordsInSentence = 0;
      sentenceLength = 6 + Math.floor(random() * 10);
      continue;
    }
    if (wordsInSentence >= 3 && wordsInSentence < sentenceLength - 2 && random() < 0.08) {
      out.push(',');
    }
    if (out.length >= count) break;
    const fromPrompt = own.length > 0 && random() < 0.25;
    const list = fromPrompt ? own : VOCAB;
    let word = list[Math.floor(random() * list.length)] ?? 'the';
    if (sentenceStart) word = word.charAt(0).toUpperCase() + word.slice(1);
    out.push(out.length === 0 ? word : ' ' + word);
    sentenceStart = false;
    wordsInSentence++;
  }
  return out;
}

/** A deterministic unit vector of `dimensions` floats for `input` (Box–Muller normals, L2-normalised). */
export function embeddingVector(seed: number, dimensions: number): number[] {
  const random = rng(seed);
  const v = new Array<number>(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i += 2) {
    const u1 = random() || Number.MIN_VALUE;
    const u2 = random();
    const r = Math.sqrt(-2 * Math.log(u1));
    const a = r * Math.cos(2 * Math.PI * u2);
    const b = r * Math.sin(2 * Math.PI * u2);
    v[i] = a;
    norm += a * a;
    if (i + 1 < dimensions) {
      v[i + 1] = b;
      norm += b * b;
    }
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  // Float32-rounded so the float and base64 encodings carry the same numbers.
  for (let i = 0; i < dimensions; i++) v[i] = Math.fround((v[i] ?? 0) * scale);
  return v;
}

/** OpenAI's base64 embedding encoding: little-endian float32 bytes. */
export function embeddingToBase64(v: readonly number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i] ?? 0, i * 4);
  return buf.toString('base64');
}
