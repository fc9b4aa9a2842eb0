/**
 * Faults: what a misbehaving GPU provider does. A fault is chosen per request from the `x-sim-fault`
 * header, else the instance's `fault`, else by probability from `faultRates`.
 *
 * Spec syntax (header value, option string, or faultRates key): `name`, `name:k`, or `name;k=3;retry_after=2`.
 */

export type FaultName =
  | 'none'
  | `http_${number}`
  | 'rate_limit'
  | 'timeout_before_headers'
  | 'reset_after_frames'
  | 'stream_without_usage'
  | 'stream_without_done'
  | 'malformed_chunk';

export interface Fault {
  name: FaultName;
  /** http_5xx: the status. */
  status?: number;
  /** reset_after_frames / malformed_chunk: frames written before the fault. */
  k?: number;
  /** rate_limit: seconds in Retry-After. */
  retryAfter?: number;
  /** timeout_before_headers: how long the request is held before the socket is closed. */
  holdMs?: number;
}

export class FaultSpecError extends Error {}

const SIMPLE = new Set(['none', 'rate_limit', 'timeout_before_headers', 'reset_after_frames', 'stream_without_usage', 'stream_without_done', 'malformed_chunk']);

function intParam(spec: string, key: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new FaultSpecError(`fault "${spec}": ${key} must be an integer in [${min}, ${max}]`);
  }
  return n;
}

/** Parses a fault spec; throws FaultSpecError on an unknown name or a bad parameter. */
export function parseFault(spec: string): Fault {
  const [head = '', ...params] = spec.trim().split(';');
  let [name = '', positional] = head.split(':').map((s) => s.trim());
  name = name.toLowerCase();
  const fault: Fault = { name: name as FaultName };
  const http = /^http_(5\d\d)$/.exec(name);
  if (http) fault.status = Number(http[1]);
  else if (!SIMPLE.has(name)) throw new FaultSpecError(`unknown fault "${name}"`);
  const set = (key: string, raw: string): void => {
    switch (key) {
      case 'k':
        fault.k = intParam(spec, key, raw, 0, 100_000);
        break;
      case 'retry_after':
        fault.retryAfter = intParam(spec, key, raw, 0, 86_400);
        break;
      case 'hold_ms':
        fault.holdMs = intParam(spec, key, raw, 0, 600_000);
        break;
      default:
        throw new FaultSpecError(`fault "${spec}": unknown parameter "${key}"`);
    }
  };
  if (positional !== undefined && positional !== '') {
    set(name === 'rate_limit' ? 'retry_after' : name === 'timeout_before_headers' ? 'hold_ms' : 'k', positional);
  }
  for (const p of params) {
    if (!p.trim()) continue;
    const eq = p.indexOf('=');
    if (eq < 0) throw new FaultSpecError(`fault "${spec}": parameter "${p.trim()}" needs a value (key=value)`);
    set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1));
  }
  return fault;
}

export function toFault(f: Fault | string | undefined | null): Fault | undefined {
  if (f === undefined || f === null) return undefined;
  return typeof f === 'string' ? parseFault(f) : f;
}

/** Parsed probability table: [fault, cumulative probability]. */
export type FaultTable = Array<[Fault, number]>;

export function parseFaultRates(rates: Record<string, number> | undefined): FaultTable {
  const table: FaultTable = [];
  let total = 0;
  for (const [spec, p] of Object.entries(rates ?? {})) {
    if (!Number.isFinite(p) || p < 0 || p > 1) throw new FaultSpecError(`faultRates["${spec}"] must be a probability in [0, 1]`);
    if (p === 0) continue;
    total += p;
    table.push([parseFault(spec), total]);
  }
  if (total > 1 + 1e-9) throw new FaultSpecError(`faultRates add up to ${total}, more than 1`);
  return table;
}

/** The fault for a uniform draw `u` in [0, 1), or undefined for a healthy request. */
export function pickFault(table: FaultTable, u: number): Fault | undefined {
  for (const [fault, cumulative] of table) if (u < cumulative) return fault;
  return undefined;
}

/** Name used in stats and the x-sim-fault-applied header. */
export function faultLabel(f: Fault): string {
  return f.name;
}
