import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  requires,
  startTbuildService,
  useBuildRoot,
  writeContext,
  type TestService,
} from '../harness/index.js';

/**
 * The web view of `tbuild serve` in a real browser (Debian's chromium,
 * headless, driven by playwright-core): what a person sees of the builds, one
 * build's timeline (parallel stages side by side, cached steps marked), its
 * log, and the cancel button. The service has a token, so the page must use
 * the one given in the address's fragment.
 */

let root = '';
let work = '';

useBuildRoot('tbuild-web-view-', (dirs) => {
  ({ root, work } = dirs);
});

const needs = ['root', 'overlay', 'busybox', 'chromium'] as const;
const SCREENSHOTS = join(REPO_ROOT, 'test-results');
const TOKEN = randomBytes(24).toString('hex');
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** How long the page may take to show something (the event stream, a refresh). */
const EVENTUALLY = { timeout: 30_000, interval: 100 };

interface Fixture {
  readonly service: TestService;
  readonly browser: BrowserContext;
  readonly profile: string;
}

let started: Promise<Fixture> | undefined;

/** The service (with one token) and the browser, started by the first test that runs. */
function fixture(): Promise<Fixture> {
  started ??= (async () => {
    const config = join(work, 'serve.json');
    await writeFile(
      config,
      JSON.stringify({
        tokens: [
          {
            name: 'web-view-test',
            sha256: createHash('sha256').update(TOKEN).digest('hex'),
            scopes: ['read', 'build'],
          },
        ],
      }),
    );
    // Enough slots that both stages' RUNs hold one at once, however many CPUs there are.
    const service = await startTbuildService({
      root,
      args: ['--config', config, '--max-parallelism', '4'],
    });
    const profile = await mkdtemp(join(tmpdir(), 'tbuild-web-view-chromium-'));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
    });
    return { service, browser, profile };
  })();
  return started;
}

afterAll(async () => {
  if (started === undefined) return;
  const { service, browser, profile } = await started;
  await browser.close();
  await service.stop();
  await rm(profile, { recursive: true, force: true });
});

/** Sends `dir` as a tar context to `POST /v1/builds`; returns the build's id. */
async function submit(service: TestService, dir: string, tag: string): Promise<string> {
  const tar = execFileSync('tar', ['-c', '-C', dir, '.'], { maxBuffer: 64 * 1024 * 1024 });
  const response = await fetch(`${service.url}/v1/builds?tag=${encodeURIComponent(tag)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-tar', ...AUTH },
    body: tar,
  });
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

async function statusOf(service: TestService, id: string): Promise<string> {
  const response = await fetch(`${service.url}/v1/builds/${id}`, { headers: AUTH });
  return ((await response.json()) as { status: string }).status;
}

async function waitForStatus(service: TestService, id: string, wanted: string): Promise<void> {
  for (let attempt = 0; attempt < 1200; attempt++) {
    const status = await statusOf(service, id);
    if (status === wanted) return;
    if (['succeeded', 'failed', 'cancelled'].includes(status))
      throw new Error(`build ${id} ended ${status}, not ${wanted}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`build ${id} never became ${wanted}`);
}

/** A new page that opened the web view with the token in the fragment. */
async function openWebView(service: TestService, route = '/'): Promise<Page> {
  const { browser } = await fixture();
  const page = await browser.newPage();
  await page.goto(`${service.url}/#${route}?token=${TOKEN}`);
  return page;
}

/** The list's row of one build. */
function buildRow(page: Page, id: string): Locator {
  return page
    .locator('table.builds tbody tr')
    .filter({ has: page.getByRole('link', { name: id }) });
}

/** The timeline's row of the step whose name holds `text`. */
function stepRow(page: Page, text: string): Locator {
  return page.locator('.timeline .step').filter({ hasText: text });
}

/**
 * Two stages whose RUNs meet through a shared cache mount: each says it
 * started, waits for the other to have started, prints its output and sleeps
 * a second. The build can only succeed if both RUNs ran at the same time, so
 * their bars must overlap.
 */
async function parallelContext(name: string): Promise<string> {
  const mount = `--mount=type=cache,id=${name},sharing=shared,target=/c`;
  const stage = (self: string, other: string): string =>
    [
      `FROM busybox AS ${self}`,
      `RUN ${mount} touch /c/${self} && i=0; ` +
        `while [ ! -e /c/${other} ]; do i=$((i+1)); [ $i -lt 300 ] || exit 1; sleep 0.1; done; ` +
        // Quotes split the output's text: the log shows it only if the RUN printed it.
        `echo "stage-${self}-out""put" && sleep 1 && echo ${self} > /${self}`,
    ].join('\n');
  return writeContext(join(work, name), {
    Dockerfile: [
      stage('a', 'b'),
      stage('b', 'a'),
      'FROM busybox',
      'COPY --from=a /a /a',
      'COPY --from=b /b /b',
      '',
    ].join('\n'),
  });
}

describe('the web view of tbuild serve', () => {
  let firstBuild = '';
  let context = '';

  it('lists a build with its status and shows its parallel stages side by side, with their log', async (ctx) => {
    requires(ctx, ...needs);
    const { service } = await fixture();
    context = await parallelContext(`web-view-${randomBytes(4).toString('hex')}`);
    firstBuild = await submit(service, context, 'web-view-test:parallel');
    await waitForStatus(service, firstBuild, 'succeeded');

    const page = await openWebView(service);
    // The token left the address bar and stays in the tab.
    await expect.poll(() => new URL(page.url()).hash, EVENTUALLY).toBe('#/');
    const row = buildRow(page, firstBuild);
    await row.waitFor();
    expect(await row.locator('.status').textContent()).toBe('succeeded');
    expect(await row.textContent()).toContain('web-view-test:parallel');

    await row.getByRole('link', { name: firstBuild }).click();
    expect(new URL(page.url()).hash).toBe(`#/builds/${firstBuild}`);
    await expect
      .poll(() => page.locator('.build-status').textContent(), EVENTUALLY)
      .toBe('succeeded');
    const stageA = stepRow(page, 'touch /c/a');
    const stageB = stepRow(page, 'touch /c/b');
    await stageA.waitFor();
    await stageB.waitFor();
    expect(await stageA.getAttribute('data-state')).toBe('done');
    expect(await stageB.getAttribute('data-state')).toBe('done');
    const a = await stageA.locator('.step-bar').boundingBox();
    const b = await stageB.locator('.step-bar').boundingBox();
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    if (a === null || b === null) return;
    expect(a.width).toBeGreaterThan(0);
    expect(b.width).toBeGreaterThan(0);
    // Side by side on one time axis: each bar starts before the other ends.
    expect(a.x).toBeLessThan(b.x + b.width);
    expect(b.x).toBeLessThan(a.x + a.width);
    // Rows of their own, one above the other.
    expect(Math.abs(a.y - b.y)).toBeGreaterThan(0);

    const log = page.getByLabel('Log');
    await expect.poll(() => log.textContent(), EVENTUALLY).toContain('stage-a-output');
    expect(await log.textContent()).toContain('stage-b-output');

    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'web-view.png'), fullPage: true });
    await page.close();
  });

  it('marks the steps a build took from the cache', async (ctx) => {
    requires(ctx, ...needs);
    const { service } = await fixture();
    expect(firstBuild, 'the first test built the context').not.toBe('');
    const again = await submit(service, context, 'web-view-test:again');
    await waitForStatus(service, again, 'succeeded');

    const page = await openWebView(service, `/builds/${again}`);
    await expect
      .poll(() => page.locator('.build-status').textContent(), EVENTUALLY)
      .toBe('succeeded');
    for (const name of ['touch /c/a', 'touch /c/b']) {
      const step = stepRow(page, name);
      await step.waitFor();
      expect(await step.getAttribute('data-state')).toBe('cached');
      expect(await step.locator('.step-note').textContent()).toBe('cached');
      expect(await step.locator('.step-bar').isVisible()).toBe(true);
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'web-view-cached.png'), fullPage: true });
    await page.close();
  });

  it('asks for the token when the address did not bring one', async (ctx) => {
    requires(ctx, ...needs);
    const { service, browser } = await fixture();
    expect(firstBuild, 'the first test built the context').not.toBe('');
    const page = await browser.newPage();
    await page.goto(`${service.url}/`);
    const problem = page.getByRole('alert');
    await expect.poll(() => problem.textContent(), EVENTUALLY).toBe('This service needs a token.');
    expect(await buildRow(page, firstBuild).count()).toBe(0);

    await page.getByLabel(/needs a token/).fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await buildRow(page, firstBuild).waitFor();
    expect(await problem.isVisible()).toBe(false);
    await page.close();
  });

  it('cancels a running build with its cancel button', async (ctx) => {
    requires(ctx, ...needs);
    const { service } = await fixture();
    const marker = `long-${randomBytes(4).toString('hex')}`;
    const dir = await writeContext(join(work, marker), {
      Dockerfile: `FROM busybox\nRUN echo "${marker}-sta""rted" && sleep 300\n`,
    });
    const id = await submit(service, dir, 'web-view-test:cancel');
    await waitForStatus(service, id, 'running');

    const page = await openWebView(service);
    const row = buildRow(page, id);
    await row.waitFor();
    expect(await row.locator('.status').textContent()).toBe('running');
    await row.getByRole('link', { name: id }).click();

    const log = page.getByLabel('Log');
    await expect.poll(() => log.textContent(), EVENTUALLY).toContain(`${marker}-started`);
    const cancel = page.getByRole('button', { name: 'Cancel build' });
    await cancel.click();
    await expect
      .poll(() => page.locator('.build-status').textContent(), EVENTUALLY)
      .toBe('cancelled');
    expect(await cancel.isVisible()).toBe(false);
    expect(await statusOf(service, id)).toBe('cancelled');
    // The cut-short RUN no longer shows as running once the build ended.
    await expect
      .poll(() => stepRow(page, 'sleep 300').getAttribute('data-state'), EVENTUALLY)
      .toMatch(/^(failed|unfinished)$/);
    await page.screenshot({ path: join(SCREENSHOTS, 'web-view-cancelled.png'), fullPage: true });

    await page.getByRole('link', { name: '← All builds' }).click();
    await expect
      .poll(() => buildRow(page, id).locator('.status').textContent(), EVENTUALLY)
      .toBe('cancelled');
    await page.close();
  });
});
