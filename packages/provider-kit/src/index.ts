/** @compux/provider-kit: what a GPU provider needs to plug into CompuX — verify relay tokens, sign capacity reports. */
export * from './relay.js';
export * from './signature.js';
