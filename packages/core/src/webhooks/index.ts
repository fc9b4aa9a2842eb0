export * from './events.js';
export * from './backoff.js';
export * from './url.js';
export * from './endpoints.js';
export * from './delivery.js';
export * from './service.js';
