/**
 * Each endpoint's time to first byte as this process has seen it (`provider.sort: "latency"`), kept in memory:
 * no I/O on the request path. An exponentially weighted mean, so a provider that slows down (or recovers) moves
 * within a few requests. An endpoint not seen yet is expected at its SLA tier's committed p95 (sla.ts).
 */
import { SLA_TIERS } from '../sla.js';
import type { SlaTier } from '../catalog.js';

/** Weight of the newest sample in the mean. */
const NEWEST_WEIGHT = 0.3;
/** Endpoints remembered; past it the one least recently written is dropped (a Map keeps insertion order). */
export const MAX_LATENCY_ENDPOINTS = 4_096;

export interface LatencyTracker {
  record(endpointId: string, ms: number): void;
  /** The endpoint's mean time to first byte (ms); null when it has not answered in this process. */
  observedMs(endpointId: string): number | null;
}

export class LatencyBoard implements LatencyTracker {
  private readonly mean = new Map<string, number>();

  record(endpointId: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const prev = this.mean.get(endpointId);
    this.mean.delete(endpointId);
    this.mean.set(endpointId, prev === undefined ? ms : prev + NEWEST_WEIGHT * (ms - prev));
    if (this.mean.size > MAX_LATENCY_ENDPOINTS) this.mean.delete(this.mean.keys().next().value!);
  }

  observedMs(endpointId: string): number | null {
    return this.mean.get(endpointId) ?? null;
  }
}

/** Expected time to first byte: what this process saw, else the tier's committed p95. */
export function expectedLatencyMs(tracker: LatencyTracker | undefined, endpointId: string, tier: SlaTier | undefined): number {
  return tracker?.observedMs(endpointId) ?? SLA_TIERS[tier ?? 'standard'].latency_ms_p95;
}
