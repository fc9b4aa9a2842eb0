/** @compux/provider-kit: what a GPU provider (or any CompuX tenant) needs — verify relay tokens, sign capacity reports, verify webhooks. */
export * from './relay.js';
export * from './signature.js';
export * from './webhook.js';
