export * from './blocks.js';
export * from './matcher.js';
export * from './booking.js';
export * from './bookings.js';
export * from './lifecycle.js';
