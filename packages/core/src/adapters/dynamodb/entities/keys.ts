/** Key layout of the single table (see README "Table design"). Every key builder lives here or in its entity file. */
export { shardOf } from '../../../ids.js';

export type Key = { pk: string; sk: string };

/** An hour bucket key for spend: 2026-11-21T17. */
export const hourOf = (iso: string): string => iso.slice(0, 13);
