/**
 * Money is an integer number of micro-US-dollars. No floating point touches it: rates are integers
 * (basis points, parts per million) and products go through BigInt, rounded at the last step.
 */

/** Every stored amount stays below this, so sums of many amounts remain safe JavaScript integers. */
export const MAX_MICROS = 1_000_000_000_000_000; // 10^15 micros = 1e9 USD
export const MICROS_PER_USD = 1_000_000;
export const BPS = 10_000n;

export class InvariantError extends Error {
  override name = 'InvariantError';
}

/** TIGER_STYLE assertion: a broken invariant is a bug, never an expected outcome. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

export function assertMicros(value: number, what = 'amount'): void {
  assert(Number.isSafeInteger(value), `${what} must be a safe integer of micros, got ${value}`);
  assert(Math.abs(value) <= MAX_MICROS * 1000, `${what} out of range: ${value}`);
}

/** floor(a × num ÷ den) for non-negative integers, exactly. */
export function mulDivFloor(a: number, num: bigint | number, den: bigint | number): number {
  assertMicros(a);
  const n = BigInt(num);
  const d = BigInt(den);
  assert(d > 0n && n >= 0n && a >= 0, 'mulDivFloor takes non-negative operands and a positive divisor');
  return toSafe((BigInt(a) * n) / d);
}

/** round_half_even(a × num ÷ den) for non-negative integers, exactly (SPEC §2 rounding rule). */
export function mulDivHalfEven(a: number, num: bigint | number, den: bigint | number): number {
  assertMicros(a);
  return toSafe(divHalfEven(BigInt(a) * BigInt(num), BigInt(den)));
}

export function divHalfEven(numerator: bigint, denominator: bigint): bigint {
  assert(denominator > 0n && numerator >= 0n, 'divHalfEven takes a non-negative numerator and a positive divisor');
  const q = numerator / denominator;
  const r = numerator % denominator;
  const twice = r * 2n;
  if (twice > denominator) return q + 1n;
  if (twice < denominator) return q;
  return q % 2n === 0n ? q : q + 1n;
}

function toSafe(v: bigint): number {
  assert(v <= BigInt(Number.MAX_SAFE_INTEGER), `result ${v} exceeds safe integer range`);
  return Number(v);
}

/** A decimal rate such as 1.25 becomes 12500 basis points; more than 4 decimals is refused, not rounded. */
export function rateToBps(rate: number): number {
  const scaled = rate * 10_000;
  const bps = Math.round(scaled);
  assert(Math.abs(scaled - bps) < 1e-7, `rate ${rate} has more than 4 decimal places`);
  return bps;
}

export function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) {
    assertMicros(v);
    total += v;
  }
  assertMicros(total, 'sum');
  return total;
}
