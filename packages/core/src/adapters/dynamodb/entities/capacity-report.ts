/** Capacity report entity: each accepted report stored once per event id, under its provider, in report order. */
import type { Key } from './keys.js';

export const capacityReportKey = (providerId: string, reportedAt: string, eventId: string): Key => ({
  pk: `PROVIDER#${providerId}`,
  sk: `CAPACITY#${reportedAt}#${eventId}`,
});
