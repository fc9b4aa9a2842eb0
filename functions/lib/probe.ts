/** Probing a provider endpoint the way real traffic reaches it (validation steps and the SLA schedule). */
import { nowMs, probe, type ProbeResult, type ProviderEndpoint } from '../../packages/core/src/index.js';
import { deps } from './deps.js';

/** The same claims and key id with a signature that is not the marketplace's: what a forger can send at best. */
function forge(token: string): string {
  const [h, c, s] = token.split('.') as [string, string, string];
  return `${h}.${c}.${Buffer.from(Buffer.from(s, 'base64url').map((b) => b ^ 0xff)).toString('base64url')}`;
}

/** One probe with a fresh request id and a relay token minted for it (forged on request, for the handshake). */
export async function probeEndpoint(
  providerId: string,
  e: ProviderEndpoint,
  model: { model: string; kind: 'chat' | 'embedding' },
  opts: { max_tokens: number; timeout_ms: number; forged_token?: boolean },
): Promise<ProbeResult> {
  const { relay, upstream } = deps();
  const requestId = `probe_${providerId}_${e.id}_${nowMs().toString(36)}`;
  const token = await relay.token(providerId, requestId);
  return probe(
    upstream,
    { base_url: e.url, model: model.model, kind: model.kind, authorization: `Bearer ${opts.forged_token ? forge(token) : token}`, request_id: requestId },
    { max_tokens: opts.max_tokens, timeout_ms: opts.timeout_ms },
  );
}
