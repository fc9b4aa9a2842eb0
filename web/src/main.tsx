/** The CompuX dashboards: sign in with a key, then the pages of that key's role (hash routes, nothing secret in them). */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, session, type Me } from './api.js';
import { LenderPage } from './pages/lender.js';
import { OperatorPage } from './pages/operator.js';
import { ProviderPage } from './pages/provider.js';
import { SignIn } from './pages/signin.js';
import { StartupPage } from './pages/startup.js';

const useHash = () => {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
};

function App() {
  const [me, setMe] = useState<Me | null | 'checking'>(session.key() ? 'checking' : null);
  const hash = useHash();
  useEffect(() => {
    if (me !== 'checking') return;
    api<Me>('GET', '/v1/me').then(setMe, () => (session.clear(), setMe(null)));
  }, [me]);
  if (me === 'checking') return <p class="state" role="status">Loading…</p>;
  if (me === null) return <SignIn onSignedIn={setMe} />;
  const signOut = () => (session.clear(), (location.hash = ''), setMe(null));
  const providerId = /^#\/provider\/(prv_[A-Za-z0-9_]+)$/.exec(hash)?.[1];
  const home = me.role === 'operator' ? '#/operator' : `#/${me.role}`;
  let page;
  let title: string;
  if (me.role === 'operator' && providerId) {
    page = <ProviderPage id={providerId} />;
    title = `Provider ${providerId}`;
  } else if (me.role === 'provider') {
    page = <ProviderPage id={me.tenant_id!} />;
    title = 'Provider';
  } else if (me.role === 'lender') {
    page = <LenderPage />;
    title = 'Lender';
  } else if (me.role === 'startup') {
    page = <StartupPage />;
    title = 'Startup';
  } else {
    page = <OperatorPage />;
    title = 'Operator';
  }
  return (
    <>
      <header class="top">
        <h1>CompuX · {title}</h1>
        <nav aria-label="Main">
          <a href={home} aria-current={!providerId ? 'page' : undefined}>Home</a>
          <span class="who">{me.key_name ?? me.role}{me.tenant_id ? ` · ${me.tenant_id}` : ''}</span>
          <button type="button" class="secondary" onClick={signOut}>Sign out</button>
        </nav>
      </header>
      <main>{page}</main>
    </>
  );
}

const root = document.getElementById('app')!;
// The static "Loading…" placeholder goes; Preact owns the container from here.
root.textContent = '';
render(<App />, root);
