/** The paid request path, split by stage under ./gateway/ (see its index.ts); this path keeps existing imports working. */
export * from './gateway/index.js';
