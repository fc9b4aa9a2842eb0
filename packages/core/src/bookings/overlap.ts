import type { MaintenanceWindow } from '../catalog.js';

/** A maintenance window and a booking (or an offer) share some time: [start, end) intervals. */
export const overlaps = (w: MaintenanceWindow, b: { start: string; end: string }): boolean =>
  Date.parse(w.start) < Date.parse(b.end) && Date.parse(b.start) < Date.parse(w.end);
