/** The Responses API (SPEC §4) over the chat gateway: request translation, the translating sink, the Response object, storage's port. */
export * from './items.js';
export * from './response.js';
export * from './events.js';
export * from './sink.js';
export * from './store.js';
export * from './prepare.js';
