/** API key entity: found by the sha256 of the secret (the secret itself is never stored); listed byStartup. */
import type { ApiKeyRecord } from '../../../store.js';
import type { Key } from './keys.js';

export const apiKeyKey = (sha256: string): Key => ({ pk: `APIKEY#${sha256}`, sk: 'APIKEY' });

export function apiKeyItem(k: ApiKeyRecord) {
  return {
    ...apiKeyKey(k.key_sha256),
    type: 'api_key',
    ...k,
    ...(k.role === 'startup' ? { gsi2pk: `STARTUP#${k.tenant_id}`, gsi2sk: `KEY#${k.created_at}#${k.id}` } : {}),
  };
}

export function toApiKey(i: Record<string, unknown>): ApiKeyRecord {
  return {
    id: i.id as string,
    role: i.role as ApiKeyRecord['role'],
    tenant_id: i.tenant_id as string,
    name: i.name as string,
    key_sha256: i.key_sha256 as string,
    budget_micros: (i.budget_micros ?? null) as number | null,
    budget_period: (i.budget_period ?? null) as ApiKeyRecord['budget_period'],
    budget_soft_micros: (i.budget_soft_micros ?? null) as number | null,
    models: (i.models ?? null) as string[] | null,
    rpm: (i.rpm ?? null) as number | null,
    tpm: (i.tpm ?? null) as number | null,
    max_in_flight: (i.max_in_flight ?? null) as number | null,
    routing: (i.routing ?? null) as ApiKeyRecord['routing'],
    budget_left_micros: (i.budget_left_micros ?? null) as number | null,
    created_at: i.created_at as string,
    revoked_at: (i.revoked_at ?? null) as string | null,
  };
}
