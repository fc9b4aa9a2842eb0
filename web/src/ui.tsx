/** Shared pieces: data loading with loading / empty / error states, figures, badges, a confirmation dialog. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

export type Loaded<T> = { state: 'loading' } | { state: 'error'; error: ApiError | Error } | { state: 'ready'; data: T };

/** Runs `load` when `deps` change; `reload` runs it again. A stale answer never overwrites a newer one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [Loaded<T>, () => void] {
  const [value, setValue] = useState<Loaded<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setValue((v) => (v.state === 'ready' ? v : { state: 'loading' }));
    load().then(
      (data) => mine === seq.current && setValue({ state: 'ready', data }),
      (error: Error) => mine === seq.current && setValue({ state: 'error', error }),
    );
  }, [...deps, tick]);
  return [value, useCallback(() => setTick((t) => t + 1), [])];
}

export function Async<T>(p: { value: Loaded<T>; empty?: (d: T) => boolean; emptyText?: string; children: (d: T) => ComponentChildren }) {
  if (p.value.state === 'loading') return <p class="state" role="status">Loading…</p>;
  if (p.value.state === 'error') return <p class="state error" role="alert">Could not load: {p.value.error.message}</p>;
  if (p.empty?.(p.value.data)) return <p class="state">{p.emptyText ?? 'Nothing here yet.'}</p>;
  return <>{p.children(p.value.data)}</>;
}

export function Card(p: { title: string; wide?: boolean; children: ComponentChildren; id?: string }) {
  return (
    <section class={`card${p.wide ? ' wide' : ''}`} aria-labelledby={p.id ? `${p.id}-h` : undefined}>
      <h2 id={p.id ? `${p.id}-h` : undefined}>{p.title}</h2>
      {p.children}
    </section>
  );
}

export function Figures(p: { items: [string, ComponentChildren][] }) {
  return (
    <dl class="figures">
      {p.items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export const Badge = (p: { value: string }) => <span class={`badge ${p.value}`}>{p.value.replace(/_/g, ' ')}</span>;

/** A native <dialog>: focus moves into it, Escape cancels, and nothing happens until the confirm button. */
export function Confirm(p: { open: boolean; title: string; body: ComponentChildren; confirm: string; danger?: boolean; onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (p.open && !d.open) d.showModal();
    if (!p.open && d.open) d.close();
  }, [p.open]);
  return (
    <dialog ref={ref} onCancel={(e) => (e.preventDefault(), p.onCancel())} aria-labelledby="confirm-title">
      <h2 id="confirm-title">{p.title}</h2>
      <div>{p.body}</div>
      <p style="display:flex;gap:.5rem;justify-content:flex-end">
        <button type="button" class="secondary" onClick={p.onCancel}>Cancel</button>
        <button type="button" class={p.danger ? 'danger' : ''} onClick={p.onConfirm}>{p.confirm}</button>
      </p>
    </dialog>
  );
}

/**
 * An action that calls the API: `run(fn)` clears the last error, runs fn, and keeps its error for
 * <ErrorLine> (resolving false) instead of throwing; `busy` while one runs.
 */
export function useAction(): { error: ApiError | null; busy: boolean; run: (fn: () => Promise<unknown>) => Promise<boolean> } {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async (fn: () => Promise<unknown>) => {
    setError(null);
    setBusy(true);
    try {
      await fn();
      return true;
    } catch (err) {
      setError(err as ApiError);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { error, busy, run };
}

export function ErrorLine(p: { error: Error | null }) {
  return p.error ? <p class="state error" role="alert">{p.error.message}</p> : null;
}
