/** Bounded whole-number flags, as the benches read them: every one has a default and a range. */

export interface IntBound {
  def: number;
  min: number;
  max: number;
}

/** `raw` (a parsed flag's string, or undefined for its default) as a safe integer within `b`; throws naming `--flag`. */
export function boundedInt(flag: string, raw: string | undefined, b: IntBound, def = b.def): number {
  const n = raw === undefined ? def : Number(raw);
  if (!Number.isSafeInteger(n) || n < b.min || n > b.max) throw new Error(`--${flag} must be an integer in [${b.min}, ${b.max}]`);
  return n;
}
