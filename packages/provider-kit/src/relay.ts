/**
 * Relay tokens (SPEC §6): every request the marketplace forwards to a provider carries
 * `Authorization: Bearer <token>`, a short-lived token the marketplace signs. The provider verifies it
 * against the marketplace's published keys (a JWKS at `GET /v1/relay/keys`) and serves only requests
 * that carry a valid one; its own credentials never leave its side.
 *
 * Format: a compact JWS (a JWT) signed with Ed25519 ("EdDSA"), header {alg, typ, kid}, claims
 * {iss: "compux", aud: <provider id>, sub: <request id>, iat, exp}. Lifetime: 60 s.
 *
 * Rotation without a failed request: the marketplace publishes a new key 7 minutes before it signs with it
 * (longer than this verifier's key cache, at most 5 minutes, plus the JWKS reply's max-age of 60 s), and keeps
 * the old one published until every token it signed has expired, so two keys are valid during a rotation. The
 * verifier also fetches the set again when it meets a kid it does not know (requests meeting it together wait
 * for the one fetch; a new fetch is forced at most once per `minRefetchMs`), so a rotation needs no restart on
 * the provider's side.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export const RELAY_ISSUER = 'compux';
export const RELAY_TOKEN_TTL_S = 60;
/** Longest token a verifier reads: a bound on the work an attacker can make it do. */
const MAX_TOKEN_CHARS = 2_048;

export interface RelayClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  exp: number;
}

/** A public key as published in the JWKS (RFC 8037 OKP / Ed25519). */
export interface RelayJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  use: 'sig';
  alg: 'EdDSA';
}

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Parsed private keys by PEM: parsing costs more than signing, and a signer uses one or two keys at a time. */
const privateKeys = new Map<string, KeyObject>();
const MAX_PRIVATE_KEYS = 8;

function privateKeyOf(pem: string): KeyObject {
  let key = privateKeys.get(pem);
  if (!key) {
    key = createPrivateKey(pem);
    if (privateKeys.size >= MAX_PRIVATE_KEYS) privateKeys.delete(privateKeys.keys().next().value!);
    privateKeys.set(pem, key);
  }
  return key;
}

/** Signs a token with an Ed25519 private key (PKCS#8 PEM): the marketplace's side. */
export function signRelayToken(claims: RelayClaims, kid: string, privateKeyPem: string): string {
  const head = `${b64u(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid }))}.${b64u(JSON.stringify(claims))}`;
  const sig = sign(null, Buffer.from(head), privateKeyOf(privateKeyPem));
  return `${head}.${b64u(sig)}`;
}

export type RelayCheck =
  | { ok: true; claims: RelayClaims; kid: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'unknown_key' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'wrong_audience' | 'wrong_issuer' };

function parseJson(part: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const realNowS = (): number => Math.floor(Date.now() / 1000);

/** The kid a token names (before any check), or null when it is not a well-formed token. */
export function relayTokenKid(token: string): string | null {
  if (token.length > MAX_TOKEN_CHARS) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const h = parseJson(parts[0]!);
  return h && h.alg === 'EdDSA' && typeof h.kid === 'string' ? h.kid : null;
}

/** Checks a token against known public keys (kid → key). Pure apart from the crypto. */
export function verifyRelayToken(token: string | undefined, keys: ReadonlyMap<string, KeyObject>, opts: { audience: string; nowS?: number; leewayS?: number }): RelayCheck {
  if (!token) return { ok: false, reason: 'missing' };
  const kid = relayTokenKid(token);
  if (!kid) return { ok: false, reason: 'malformed' };
  const key = keys.get(kid);
  if (!key) return { ok: false, reason: 'unknown_key' };
  const [h, p, s] = token.split('.') as [string, string, string];
  if (!verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))) return { ok: false, reason: 'bad_signature' };
  const c = parseJson(p);
  if (!c || typeof c.iat !== 'number' || typeof c.exp !== 'number' || typeof c.aud !== 'string' || typeof c.sub !== 'string' || typeof c.iss !== 'string') return { ok: false, reason: 'malformed' };
  const now = opts.nowS ?? realNowS();
  const leeway = opts.leewayS ?? 5;
  if (c.iss !== RELAY_ISSUER) return { ok: false, reason: 'wrong_issuer' };
  if (c.aud !== opts.audience) return { ok: false, reason: 'wrong_audience' };
  if (now > c.exp + leeway) return { ok: false, reason: 'expired' };
  if (now + leeway < c.iat) return { ok: false, reason: 'not_yet_valid' };
  return { ok: true, claims: c as unknown as RelayClaims, kid };
}

/** A JWKS entry → a public key; entries that are not Ed25519 signing keys are skipped. */
export function publicKeyOf(jwk: Partial<RelayJwk>): KeyObject | null {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || typeof jwk.kid !== 'string') return null;
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  } catch {
    return null;
  }
}

export interface RelayVerifierOptions {
  /** Your provider id (prv_…): tokens minted for another provider are refused. */
  providerId: string;
  /** The marketplace's JWKS, e.g. https://api.compux.example/v1/relay/keys. */
  jwksUrl?: string;
  /** Or fixed keys (tests, air-gapped set-ups); with jwksUrl these are only the starting set. */
  keys?: readonly RelayJwk[];
  /** Seconds of clock skew tolerated (default 5). */
  leewayS?: number;
  /**
   * How long a fetched key set is trusted before it is fetched again (default and most: RELAY_KEYS_MAX_CACHE_MS,
   * 5 minutes; the marketplace publishes a new key longer than that before it signs with it).
   */
  cacheMs?: number;
  /** Fewest milliseconds between two fetches forced by an unknown kid (default 10 s). */
  minRefetchMs?: number;
  fetch?: typeof fetch;
  /**
   * The current time in whole seconds, checked against a token's iat/exp (default: this machine's clock).
   * Providers run real time; only a marketplace run on a shifted clock (CompuX's COMPUX_NOW) passes its own.
   */
  nowS?: () => number;
}

/**
 * Verifies relay tokens for one provider. `check(authorizationHeader)` resolves to a RelayCheck; serve
 * the request only when `ok` is true (answer 401 otherwise).
 */
/** The longest a verifier trusts a fetched key set (the marketplace's publish lead is longer: relay.ts in core). */
export const RELAY_KEYS_MAX_CACHE_MS = 300_000;

export class RelayVerifier {
  private keys = new Map<string, KeyObject>();
  private fetchedAt = 0;
  private lastForcedAt = 0;
  private inflight: Promise<void> | null = null;
  private readonly o: Required<Omit<RelayVerifierOptions, 'jwksUrl' | 'keys'>> & Pick<RelayVerifierOptions, 'jwksUrl'>;

  constructor(opts: RelayVerifierOptions) {
    if (!opts.jwksUrl && !opts.keys?.length) throw new Error('RelayVerifier needs jwksUrl or keys');
    const cacheMs = Math.min(opts.cacheMs ?? RELAY_KEYS_MAX_CACHE_MS, RELAY_KEYS_MAX_CACHE_MS);
    this.o = { providerId: opts.providerId, jwksUrl: opts.jwksUrl, leewayS: opts.leewayS ?? 5, cacheMs, minRefetchMs: opts.minRefetchMs ?? 10_000, fetch: opts.fetch ?? fetch, nowS: opts.nowS ?? realNowS };
    for (const k of opts.keys ?? []) {
      const key = publicKeyOf(k);
      if (key) this.keys.set(k.kid, key);
    }
  }

  private refresh(): Promise<void> {
    this.inflight ??= (async () => {
      try {
        const res = await this.o.fetch(this.o.jwksUrl!, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) return;
        const body = (await res.json()) as { keys?: Partial<RelayJwk>[] };
        const next = new Map<string, KeyObject>();
        for (const k of (body.keys ?? []).slice(0, 16)) {
          const key = publicKeyOf(k);
          if (key) next.set(k.kid!, key);
        }
        // An empty or broken answer keeps the keys we have rather than refusing everything.
        if (next.size > 0) {
          this.keys = next;
          this.fetchedAt = Date.now();
        }
      } catch {
        // unreachable JWKS: keep the cached keys; an unknown kid stays unknown until the next try
      } finally {
        this.inflight = null;
      }
    })();
    return this.inflight;
  }

  /** Checks a bare token. */
  async verify(token: string | undefined): Promise<RelayCheck> {
    if (this.o.jwksUrl && Date.now() - this.fetchedAt > this.o.cacheMs) await this.refresh();
    // Cache ages (fetchedAt, lastForcedAt) are durations on this machine's clock; token times use o.nowS.
    const opts = { audience: this.o.providerId, leewayS: this.o.leewayS, nowS: this.o.nowS() };
    let r = verifyRelayToken(token, this.keys, opts);
    if (!r.ok && r.reason === 'unknown_key' && this.o.jwksUrl) {
      // A kid we have not seen: the marketplace may have just rotated. A fetch under way is joined (a burst of
      // requests with the new kid waits for one fetch, none is refused meanwhile); a new one is forced at most
      // every minRefetchMs, so tokens with made-up kids cannot make this verifier hammer the JWKS.
      if (this.inflight) await this.inflight;
      else if (Date.now() - this.lastForcedAt >= this.o.minRefetchMs) {
        this.lastForcedAt = Date.now();
        await this.refresh();
      }
      r = verifyRelayToken(token, this.keys, opts);
    }
    return r;
  }

  /** Checks an `Authorization: Bearer <token>` header value. */
  async check(authorization: string | undefined): Promise<RelayCheck> {
    const m = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization ?? '');
    return this.verify(m ? m[1] : undefined);
  }
}
