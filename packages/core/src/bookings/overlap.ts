import type { MaintenanceWindow } from '../catalog.js';

/** A maintenance window and [startMs, endMs) share some time. */
export const overlapsMs = (w: MaintenanceWindow, startMs: number, endMs: number): boolean => Date.parse(w.start) < endMs && startMs < Date.parse(w.end);

/** A maintenance window and a booking (or an offer) share some time: [start, end) intervals. */
export const overlaps = (w: MaintenanceWindow, b: { start: string; end: string }): boolean => overlapsMs(w, Date.parse(b.start), Date.parse(b.end));
