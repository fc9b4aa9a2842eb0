/**
 * The simulator counts tokens with the marketplace's own documented rule (packages/core/src/tokens.ts), so
 * the marketplace's count from content equals the simulator's usage report exactly.
 */
export * from '../../core/src/tokens.js';
