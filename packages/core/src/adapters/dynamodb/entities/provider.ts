/**
 * Provider entities under PROVIDER#<id>: the profile (status, catalog, onboarding steps), the webhook
 * secret (kept apart so no read of the profile carries it), and the capacity state of the consumer.
 * Capacity reports (entities/capacity-report.ts) sit in the same partition.
 */
import type { SigningSecrets } from '../../../signing-secrets.js';
import type { Key } from './keys.js';

export const providerKey = (id: string): Key => ({ pk: `PROVIDER#${id}`, sk: 'PROFILE' });
export const providerSecretKey = (id: string): Key => ({ pk: `PROVIDER#${id}`, sk: 'SECRET' });
export const capacityStateKey = (id: string): Key => ({ pk: `PROVIDER#${id}`, sk: 'CAPSTATE' });

/**
 * The secret item: `webhook_secret` is the current secret (the name items had before rolls), with the one a roll keeps
 * for its overlap. `version` guards a roll; items written before rolls existed have none and read as version 0.
 */
export function providerSecretItem(id: string, s: SigningSecrets, version: number, createdAt: string) {
  return {
    ...providerSecretKey(id), type: 'provider_secret', version, created_at: createdAt,
    webhook_secret: s.secret, previous_secret: s.previous_secret, previous_secret_expires_at: s.previous_secret_expires_at, rolled_at: s.rolled_at,
  };
}

export function toProviderSecrets(i: Record<string, unknown>): { secrets: SigningSecrets; version: number; created_at: string } {
  return {
    secrets: {
      secret: i.webhook_secret as string,
      previous_secret: (i.previous_secret ?? null) as string | null,
      previous_secret_expires_at: (i.previous_secret_expires_at ?? null) as string | null,
      rolled_at: (i.rolled_at ?? null) as string | null,
    },
    version: (i.version ?? 0) as number,
    created_at: i.created_at as string,
  };
}
