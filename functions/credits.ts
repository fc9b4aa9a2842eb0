/** GET /v1/credits: the calling startup's credits, per facility in draw order (SPEC §4). */
import { apiRoute, startupIdOf } from './lib/api.js';
import { deps } from './lib/deps.js';

export const get = apiRoute('functions/credits.get', async (req) => {
  const c = await deps().lending.creditsOf(startupIdOf(req));
  return {
    status: 200,
    body: {
      object: 'credits',
      available_micros: c.available_micros,
      reserved_micros: c.reserved_micros,
      leased_micros: c.leased_micros,
      frozen_micros: c.frozen_micros,
      granted_micros: c.granted_micros,
      spent_micros: c.spent_micros,
      facilities: c.facilities.map((f) => ({
        id: f.id,
        status: f.status,
        term_end: f.term_end,
        granted_micros: f.granted_micros,
        spent_micros: f.spent_micros,
        reserved_micros: f.reserved_micros,
        leased_micros: f.leased_micros,
        available_micros: f.available_micros,
        frozen_micros: f.frozen_micros,
        burn_24h_micros: f.burn_24h_micros,
        burn_7d_micros: f.burn_7d_micros,
      })),
    },
  };
});
