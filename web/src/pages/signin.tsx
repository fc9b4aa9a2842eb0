/** Sign-in: a person pastes their own API key; it is checked with GET /v1/me and kept only in this tab's session storage. */
import { useState } from 'preact/hooks';
import { api, session, type ApiError, type Me } from '../api.js';

export function SignIn(p: { onSignedIn: (me: Me) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem('key') as HTMLInputElement;
    const key = input.value.trim();
    setBusy(true);
    setError(null);
    try {
      const me = await api<Me>('GET', '/v1/me', undefined, key);
      session.set(key);
      input.value = '';
      p.onSignedIn(me);
    } catch (err) {
      setError((err as ApiError).status === 401 ? 'That key is not valid.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="signin">
      <section class="card">
        <h2>Sign in to CompuX</h2>
        <form onSubmit={submit}>
          <label>Your API key<input name="key" type="password" required autocomplete="off" spellcheck={false} /></label>
          <p class="muted">The key stays in this browser tab (session storage) and is sent only to this site's API. Closing the tab signs you out.</p>
          <button type="submit" disabled={busy}>{busy ? 'Checking…' : 'Sign in'}</button>
        </form>
        {error && <p class="state error" role="alert">{error}</p>}
      </section>
    </main>
  );
}
