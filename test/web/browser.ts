/**
 * The Chromium the browser tests drive, found without installing anything by hand:
 * 1. CHROMIUM_PATH, when set (any Chromium the developer prefers);
 * 2. Debian's /usr/bin/chromium, where the machine has it;
 * 3. otherwise the Chromium that the npm package @sparticuz/chromium ships inside itself (a devDependency, so
 *    `npm install` brings it; it inflates its brotli-packed binary into the temp folder on first use).
 * A test tool's own browser download cannot work here (no network beyond the npm registry), so none is tried.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** Flags for a headless Chromium on a closed network: no background connections, no sandbox (root). */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface FoundChromium {
  executablePath: string;
  source: 'CHROMIUM_PATH' | 'debian' | '@sparticuz/chromium';
}

export async function findChromium(): Promise<FoundChromium> {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist`);
    return { executablePath: fromEnv, source: 'CHROMIUM_PATH' };
  }
  if (existsSync(DEBIAN_CHROMIUM)) return { executablePath: DEBIAN_CHROMIUM, source: 'debian' };
  const { default: packaged } = await import('@sparticuz/chromium');
  return { executablePath: await packaged.executablePath(), source: '@sparticuz/chromium' };
}

export async function launchChromium(): Promise<{ browser: Browser; found: FoundChromium }> {
  const found = await findChromium();
  // @sparticuz/chromium ships chrome-headless-shell: playwright's default headless flags suit it as they are.
  const browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: FLAGS });
  return { browser, found };
}
