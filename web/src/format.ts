/** Display formats: money stays exact in micros until here. */
export function usd(micros: number | null | undefined): string {
  if (micros === null || micros === undefined) return '—';
  const abs = Math.abs(micros);
  const digits = abs !== 0 && abs < 10_000 ? 4 : 2;
  return `${micros < 0 ? '−' : ''}$${(abs / 1e6).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}
export const pct = (ppm: number | null | undefined, digits = 1) => (ppm === null || ppm === undefined ? '—' : `${(ppm / 10_000).toFixed(digits)} %`);
export const num = (n: number | null | undefined, digits = 0) => (n === null || n === undefined ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
export const day = (iso: string | null | undefined) => (iso ? iso.slice(0, 10) : '—');
export const when = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').slice(0, 16) + ' UTC' : '—');
