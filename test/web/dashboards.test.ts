/**
 * The dashboards in a real browser: Chromium (Debian's, or the one @sparticuz/chromium ships: test/web/browser.ts) driven by playwright-core against the local runtime
 * with the demo world `npm start` seeds (the same seedDemoWorld), the bundle built by the test setup.
 * Each page must render real data from the API; the lender's freeze must stop the startup's next call
 * (403); a key made in the startup page must work with the `openai` client. Screenshots of every page go to
 * test-artifacts/screenshots (laptop and phone widths).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from '../api/runtime.js';
import { client } from '../api/client.js';
import { launchChromium } from './browser.js';
import { DEMO_PROVIDERS, demoBlocks } from '../../local/demo.js';
import { DynamoBookings } from '../../packages/core/src/adapters/dynamodb/index.js';
import { HOUR_MS, floorHour, nowMs } from '../../packages/core/src/index.js';
import { createLambdaContext, functionNameFor, invokeHandler } from '../../local/lambda.js';
import { SCHEDULES } from '../../infra/schedules.js';

const SHOTS = path.resolve('test-artifacts/screenshots');
const LAPTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const LLAMA = 'llama-3.1-70b-instruct';

let rt: TestRuntime;
let browser: Browser;
let call: ReturnType<typeof client>;
const consoleLines: string[] = [];

const openai = (key: string) => new OpenAI({ apiKey: key, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0 });

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const t0 = Date.now();
  rt = await startTestRuntime('web', { demo: { history: true } });
  console.log(`runtime with the demo world and its history: ${Date.now() - t0} ms`);
  call = client(rt.baseUrl);
  // Real traffic first, so usage, burn and the provider's utilization have something to show.
  const ai = openai(rt.world!.startupKey);
  for (let i = 0; i < 3; i++) await ai.chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: `hello ${i}` }], max_tokens: 16 });
  const launched = await launchChromium();
  browser = launched.browser;
  console.log(`Chromium ${browser.version()} from ${launched.found.source} (${launched.found.executablePath})`);
});
afterAll(async () => {
  await browser?.close();
  await rt?.world?.stop();
  await rt?.stop();
});

async function signedIn(key: string, viewport = LAPTOP): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on('console', (m) => consoleLines.push(m.text()));
  await page.goto(rt.baseUrl);
  await page.getByLabel('Your API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('banner').waitFor();
  return page;
}

/** At phone width nothing may push the page sideways (wide tables scroll inside their card). */
async function expectFitsPhone(page: Page) {
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(200); // charts resize on the next frame
  expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

describe('sign-in', () => {
  it('keeps the key in session storage only: not in the URL, not in the console; a wrong key is told so', async () => {
    // Prepare
    const page = await browser.newPage({ viewport: LAPTOP });
    page.on('console', (m) => consoleLines.push(m.text()));
    await page.goto(rt.baseUrl);
    // Act: the key field is the first thing Tab reaches.
    await page.keyboard.press('Tab');
    const focused = await page.evaluate('document.activeElement && document.activeElement.getAttribute("name")');
    await page.getByLabel('Your API key').fill('cx_startup_not_a_real_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const refused = await page.getByRole('alert').textContent();
    await shot(page, 'signin-refused');
    await page.getByLabel('Your API key').fill(rt.world!.startupKey);
    await page.keyboard.press('Enter');
    await page.getByRole('banner').waitFor();
    // Assess
    expect(focused).toBe('key');
    expect(refused).toContain('not valid');
    expect(page.url()).not.toContain(rt.world!.startupKey);
    expect(await page.evaluate(() => sessionStorage.getItem('compux.key'))).toBe(rt.world!.startupKey);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(consoleLines.join('\n')).not.toContain(rt.world!.startupKey);
    await page.close();
  });
});

describe('startup pages', () => {
  it('show credits by facility, burn and usage by model and provider from the API', async () => {
    // Prepare
    const credits = (await call('GET', '/v1/credits', { key: rt.world!.startupKey })).body;
    // Act
    const page = await signedIn(rt.world!.startupKey);
    const creditsCard = page.locator('section', { has: page.getByRole('heading', { name: 'Credits' }) });
    await creditsCard.getByRole('table').waitFor();
    await page.locator('[data-chart="Usage by model"] svg').waitFor();
    // Assess
    expect(await creditsCard.textContent()).toContain(rt.world!.facilityId);
    expect(await creditsCard.textContent()).toContain(`$${(credits.available_micros / 1e6).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
    expect(await page.locator('section', { has: page.getByRole('heading', { name: /Usage by model/ }) }).textContent()).toContain(LLAMA);
    expect(await page.locator('section', { has: page.getByRole('heading', { name: /Usage by provider/ }) }).textContent()).toMatch(/prv_demo/);
    await page.locator('[data-chart="Daily spend, last 30 days"] svg').waitFor();
    await shot(page, 'startup-laptop');
    await expectFitsPhone(page);
    await shot(page, 'startup-phone');
    await page.close();
  });

  it("lists the startup's capacity bookings with their state and cost", async () => {
    // Prepare: Cirrus's demo blocks (npm start seeds them), and one booking of 2 H200s for 3 hours
    const cirrus = DEMO_PROVIDERS.find((p) => p.accelerator === 'H200')!;
    const store = new DynamoBookings(rt.doc, rt.tableName);
    const at = new Date(nowMs()).toISOString();
    await store.applyBlocks(cirrus.id, await store.planBlocks(cirrus.id, demoBlocks(cirrus, nowMs()), at), at);
    const start = new Date(floorHour(nowMs()) + 3 * HOUR_MS).toISOString();
    const q = await call('POST', '/v1/capacity/quotes', { key: rt.world!.startupKey, body: { accelerator: 'H200', gpus: 2, hours: 3, earliest_start: start, latest_start: start } });
    const b = await call('POST', '/v1/bookings', { key: rt.world!.startupKey, body: { quote_id: q.body.id, offer: q.body.offers[0].id }, headers: { 'idempotency-key': 'web-booking' } });
    expect(b.status).toBe(201);
    // Act
    const page = await signedIn(rt.world!.startupKey);
    const row = page.getByRole('table', { name: 'Capacity bookings' }).getByRole('row', { name: new RegExp(b.body.id) });
    await row.waitFor();
    // Assess
    const text = (await row.textContent())!;
    expect(text).toContain('pending');
    expect(text).toContain('2 × H200');
    expect(text).toContain('0 of 3');
    expect(text).toContain(`$${(b.body.total_micros / 1e6).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
    await page.close();
    await call('POST', `/v1/bookings/${b.body.id}/cancel`, { key: rt.world!.startupKey });
  });

  it('a key created in the page is shown once and works with the openai client; revoking it stops it', async () => {
    // Prepare
    const page = await signedIn(rt.world!.startupKey);
    // Act
    await page.getByLabel('Name').fill('from the dashboard');
    await page.getByLabel('Budget (USD)').fill('5');
    await page.getByLabel('RPM').fill('100');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.getByTestId('new-key').textContent())!.trim();
    await shot(page, 'startup-new-key');
    const reply = await openai(secret).chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'made in a browser' }], max_tokens: 8 });
    await page.getByRole('button', { name: 'I have copied it' }).click();
    await page.getByRole('button', { name: 'Revoke from the dashboard' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke', exact: true }).click();
    // The key's own row: another key revoked earlier would also show 'revoked'.
    await page.getByRole('row', { name: /from the dashboard/ }).getByText('revoked', { exact: true }).waitFor();
    const after = await openai(secret).models.list().then(() => 200, (e: { status?: number }) => e.status);
    // Assess
    expect(secret).toMatch(/^cx_startup_/);
    expect(reply.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(await page.getByTestId('new-key').count()).toBe(0);
    expect(after).toBe(401);
    await page.close();
  });
});

describe('lender pages', () => {
  it("show the facility's covenants and their state once the schedule has evaluated them", async () => {
    // Prepare: a notify covenant the demo history's spend breaches, evaluated by the schedule's handler
    const set = await fetch(`${rt.baseUrl}/v1/facilities/${rt.world!.facilityId}/covenants`, {
      method: 'PUT', headers: { authorization: `Bearer ${rt.world!.lenderKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ covenants: [{ kind: 'max_spend_24h_micros', threshold: 1, action: 'notify' }, { kind: 'min_runway_days', threshold: 1, action: 'notify' }] }),
    });
    expect(set.status).toBe(200);
    const row = SCHEDULES.find((s) => s.name === 'covenant-check')!;
    if (!('handler' in row.target)) throw new Error('covenant-check runs a handler');
    await invokeHandler(await rt.resolveHandler(row.target.handler), {}, createLambdaContext({ functionName: functionNameFor(row.target.handler), timeoutMs: 60_000 }), 60_000, rt.grants.for(row.target));
    // Act
    const page = await signedIn(rt.world!.lenderKey!);
    const table = page.getByRole('table', { name: `Covenants of facility ${rt.world!.facilityId}` });
    await table.waitFor();
    // Assess
    await table.getByRole('row', { name: /Maximum spend in 24 h/ }).getByText('breached', { exact: true }).waitFor();
    await table.getByRole('row', { name: /Minimum runway/ }).getByText('met', { exact: true }).waitFor();
    expect(await table.getByRole('row').count()).toBe(3);
    await page.close();
    // The next test starts from a facility without covenants.
    await fetch(`${rt.baseUrl}/v1/facilities/${rt.world!.facilityId}/covenants`, { method: 'PUT', headers: { authorization: `Bearer ${rt.world!.lenderKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ covenants: [] }) });
  });

  it('show the facility figures and burn; freezing after the confirmation makes the startup’s next call fail with 403, unfreezing restores it', async () => {
    // Prepare
    const page = await signedIn(rt.world!.lenderKey!);
    const card = page.locator('section', { has: page.getByRole('heading', { name: `Facility ${rt.world!.facilityId}` }) });
    await card.getByText('Runway').waitFor();
    // The loan beside the credit: the fees the startup owes (here the demo facility's origination fee).
    await card.getByText('Fees owed').waitFor();
    await page.locator(`[data-chart="Daily spend of facility ${rt.world!.facilityId}, last 30 days"] svg`).waitFor();
    // The demo history's spend, by provider and by model (SPEC §3).
    await card.getByRole('table', { name: `Spend by model of facility ${rt.world!.facilityId}, last 30 days` }).getByRole('row', { name: /llama-3\.1-70b-instruct/ }).waitFor();
    await card.getByRole('table', { name: `Spend by provider of facility ${rt.world!.facilityId}, last 30 days` }).getByRole('row', { name: /prv_demo/ }).first().waitFor();
    await shot(page, 'lender-laptop');
    // Act: the first click only asks; cancel leaves it active.
    await card.getByRole('button', { name: 'Freeze…', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel', exact: true }).click();
    const stillWorks = await openai(rt.world!.startupKey).chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'before' }], max_tokens: 4 }).then(() => 200);
    await card.getByLabel('Reason').fill('missed a payment');
    await card.getByRole('button', { name: 'Freeze…', exact: true }).click();
    await shot(page, 'lender-confirm-freeze');
    await page.getByRole('dialog').getByRole('button', { name: 'Freeze now', exact: true }).click();
    await card.getByText('frozen: missed a payment').waitFor();
    const frozen = await openai(rt.world!.startupKey).chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'after' }], max_tokens: 4 }).then(() => 200, (e: { status?: number }) => e.status);
    await shot(page, 'lender-frozen');
    await card.getByRole('button', { name: 'Unfreeze…', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Unfreeze', exact: true }).click();
    // Exact names: Playwright matches a name as a case-insensitive substring, so 'Freeze…' alone
    // also finds 'Unfreeze…', which is on screen until the unfreeze has returned.
    await card.getByRole('button', { name: 'Freeze…', exact: true }).waitFor();
    await card.getByText('frozen: missed a payment').waitFor({ state: 'detached' });
    const again = await openai(rt.world!.startupKey).chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'again' }], max_tokens: 4 }).then(() => 200);
    // Assess
    expect(stillWorks).toBe(200);
    expect(frozen).toBe(403);
    expect(again).toBe(200);
    await expectFitsPhone(page);
    await shot(page, 'lender-phone');
    await page.close();
  });
});

describe('provider pages', () => {
  it('list the bookings of its blocks; a pending one is accepted from the page with its access endpoint', async () => {
    // Prepare: Cirrus's demo blocks and a booking of 1 H200 for 2 hours by the demo startup
    const cirrus = DEMO_PROVIDERS.find((p) => p.accelerator === 'H200')!;
    const store = new DynamoBookings(rt.doc, rt.tableName);
    const at = new Date(nowMs()).toISOString();
    await store.applyBlocks(cirrus.id, await store.planBlocks(cirrus.id, demoBlocks(cirrus, nowMs()), at), at);
    const start = new Date(floorHour(nowMs()) + 5 * HOUR_MS).toISOString();
    const q = await call('POST', '/v1/capacity/quotes', { key: rt.world!.startupKey, body: { accelerator: 'H200', gpus: 1, hours: 2, earliest_start: start, latest_start: start } });
    const b = await call('POST', '/v1/bookings', { key: rt.world!.startupKey, body: { quote_id: q.body.id, offer: q.body.offers[0].id }, headers: { 'idempotency-key': 'web-provider-booking' } });
    expect(b.status).toBe(201);
    const page = await signedIn(rt.world!.providerSecrets.get(cirrus.id)!.key!);
    const table = page.getByRole('table', { name: 'Bookings of your capacity' });
    await table.getByRole('row', { name: new RegExp(b.body.id) }).getByText('pending').waitFor();
    // Act
    await page.getByLabel(/Access endpoint/).fill('ssh://h200-1.cirrus.example');
    await page.getByRole('button', { name: `Accept ${b.body.id}` }).click();
    await table.getByRole('row', { name: new RegExp(b.body.id) }).getByText('scheduled').waitFor();
    // Assess: the startup reads the access details the page sent
    const seen = await call('GET', `/v1/bookings/${b.body.id}`, { key: rt.world!.startupKey });
    expect(seen.body).toMatchObject({ status: 'scheduled', access: { endpoint: 'ssh://h200-1.cirrus.example' } });
    // The fill card counts the booked GPU-hours ahead on its blocks, as the utilization route gives them.
    const util = (await call('GET', `/v1/providers/${cirrus.id}/utilization`, { key: rt.adminKey })).body;
    const fill = page.locator('section', { has: page.getByRole('heading', { name: /Fill rate/ }) });
    expect(util.blocks_ahead.booked_gpu_hours).toBeGreaterThanOrEqual(2);
    expect(await fill.locator('div', { has: page.locator('dt', { hasText: /^Booked$/ }) }).locator('dd').textContent()).toBe(`${util.blocks_ahead.booked_gpu_hours.toLocaleString("en-US")} GPU-h`);
    await page.close();
    await call('POST', `/v1/bookings/${b.body.id}/cancel`, { key: rt.world!.startupKey });
  });

  it('show the utilization heatmap, fill rate, SLA, forecast with its method, statements and onboarding from the API', async () => {
    // Prepare
    const id = 'prv_demoCirrus01';
    const util = (await call('GET', `/v1/providers/${id}/utilization`, { key: rt.adminKey })).body;
    // Act
    const page = await signedIn(rt.world!.providerSecrets.get(id)!.key!);
    await page.locator('[data-chart="Utilization heatmap: accelerator by hour of day"] svg').waitFor();
    await page.locator('[data-chart^="Capacity forecast"] svg').waitFor();
    const onboarding = page.locator('section', { has: page.getByRole('heading', { name: 'Onboarding' }) });
    await onboarding.getByRole('table').waitFor();
    // Assess
    expect(util.delivered_gpu_hours).toBeGreaterThan(0);
    expect(util.daily.at(-1).requests).toBeGreaterThanOrEqual(3);
    const fill = page.locator('section', { has: page.getByRole('heading', { name: /Fill rate/ }) });
    await fill.locator('[data-chart="Delivered GPU-hours a day against 80 % of listed"] svg').waitFor();
    // The figures, not the card's title (which names the target too): the target as the route gives it.
    expect(await fill.locator('div', { has: page.locator('dt', { hasText: /^Target$/ }) }).locator('dd').textContent()).toBe('80 %');
    expect(util.fill_target_ppm).toBe(800_000);
    expect(await page.locator('section', { has: page.getByRole('heading', { name: /Capacity forecast/ }) }).textContent()).toContain('Method:');
    expect(await onboarding.textContent()).toContain('live');
    await page.locator('section', { has: page.getByRole('heading', { name: /SLA compliance/ }) }).getByText('Tier').waitFor();
    await shot(page, 'provider-laptop');
    await expectFitsPhone(page);
    await shot(page, 'provider-phone');
    await page.close();
  });
});

describe('operator pages', () => {
  it('show the review queue, the spot index and the settlement runs; a provider can be approved from the queue', async () => {
    // Prepare: an application waiting for review.
    const app = (await call('POST', '/v1/providers', { body: { name: 'Queue GPU', contact_email: 'ops@queue.example', regions: ['us-east-1'], accelerators: ['H100'] } })).body;
    const page = await signedIn(rt.adminKey);
    const queue = page.locator('section', { has: page.getByRole('heading', { name: 'Provider review queue' }) });
    await queue.getByText('Queue GPU').waitFor();
    const spot = page.locator('section', { has: page.getByRole('heading', { name: /Spot index/ }) });
    await spot.getByRole('table').waitFor();
    await page.locator('section', { has: page.getByRole('heading', { name: 'Settlement runs' }) }).getByRole('table').waitFor();
    await shot(page, 'operator-laptop');
    // Act
    await queue.getByRole('button', { name: 'Approve Queue GPU' }).click();
    await queue.getByText('No application is waiting for review.').waitFor();
    const record = (await call('GET', `/v1/providers/${app.id}`, { key: rt.adminKey })).body;
    // Assess
    expect(await spot.textContent()).toMatch(/H100.*\$/);
    expect(record.status).toBe('integration');
    await expectFitsPhone(page);
    await shot(page, 'operator-phone');
    await page.close();
  });
});
