/**
 * The dashboard in a real browser against the real demo: Debian's chromium
 * driven by playwright-core, `nodewarden demo` started as a user starts it.
 * Seed scenario: the MIG node turns Down in the overview by itself (live
 * updates, no reload), the incident page shows the verdict and the timeline,
 * the Korean report downloads. Approve scenario: a remediation step waits
 * for approval and the Approve button runs it. No request may leave the
 * page's origin. Screenshots go to test-output/e2e/ (docs/dashboard.md
 * describes them).
 *
 * Without chromium the tests are skipped with the reason, except under
 * CI=true, where they fail: CI installs chromium, so its absence is a fault.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, launchChromium } from '../support/browser.ts';
import { startDemo, type DemoProcess } from '../support/demo-process.ts';

const MIG = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';
const OUT = fileURLToPath(new URL('../../test-output/e2e/', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../../dist/web/index.html', import.meta.url));
// ×10: the cut comes 6.5 s of wall time after start, late enough to see the node Healthy first.
const SPEED = '10';

const chromium = findChromium();
const ci = process.env['CI'] === 'true';
const missing = `no chromium at ${chromium.tried.join(', ')} (apt-get install chromium, or set NODEWARDEN_CHROMIUM)`;

/** A page that records every request outside its origin and every uncaught page error. */
async function watchedPage(
  browser: Browser,
  origin: string,
): Promise<{
  page: Page;
  foreign: string[];
  errors: string[];
}> {
  const context = await browser.newContext({
    viewport: { width: 1366, height: 768 },
    acceptDownloads: true,
  });
  const page = await context.newPage();
  const foreign: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(origin) && !url.startsWith('blob:') && !url.startsWith('data:'))
      foreign.push(url);
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, foreign, errors };
}

describe.skipIf(chromium.path === null && !ci)(
  chromium.path === null
    ? `dashboard in a browser (skipped: ${missing})`
    : 'dashboard in a browser',
  () => {
    let browser: Browser | null = null;
    const demos: DemoProcess[] = [];

    beforeAll(async () => {
      if (chromium.path === null) throw new Error(`CI=true and ${missing}`);
      if (!existsSync(BUNDLE))
        throw new Error(`the dashboard is not built (${BUNDLE} is missing): run npm run build`);
      mkdirSync(OUT, { recursive: true });
      browser = await launchChromium(chromium.path);
    });

    afterAll(async () => {
      await Promise.all(demos.map((d) => d.stop()));
      await browser?.close();
    });

    async function demo(scenario: string): Promise<DemoProcess> {
      const d = await startDemo(['--scenario', scenario, '--speed', SPEED]);
      demos.push(d);
      return d;
    }

    it('seed: the MIG node turns dead in the overview, the incident shows verdict and timeline, the Korean report downloads, the page shows it resolved', async () => {
      const started = performance.now();
      const d = await demo('seed');
      const { page, foreign, errors } = await watchedPage(browser!, d.url.replace(/\/$/, ''));
      try {
        await page.goto(d.url);
        const row = page.locator(`tr[data-node="${MIG}"]`);
        // Before the cut: alive; then Down, pushed by the live updates (the page is never reloaded).
        await row.locator('[data-state="Healthy"]').waitFor({ timeout: 20_000 });
        await row.locator('[data-state="Down"]').waitFor({ timeout: 60_000 });
        await expect(row.locator('[data-state="Down"]').textContent()).resolves.toBe('Down (dead)');
        await expect(row.textContent()).resolves.toContain('mig');
        await page.locator('#live.live').waitFor();
        await page.screenshot({ path: `${OUT}overview.png`, fullPage: true });

        await row.getByRole('link', { name: 'open incident' }).click();
        await page.waitForURL(/#\/incidents\/inc-/);
        await page.locator('[data-root-cause="NODE_HALTED"]').waitFor({ timeout: 30_000 });
        await expect(page.locator('#verdict').textContent()).resolves.toMatch(
          /Confidence\s+0\.\d+/,
        );
        const timeline = page.locator('#timeline');
        await timeline.locator('li[data-kind="incident-opened"]').waitFor();
        await expect(timeline.locator('li[data-kind="down"]').count()).resolves.toBe(1);
        await page.locator('#gpu svg[role="img"]').waitFor();
        await page.locator('#survivors svg[role="img"]').waitFor();
        await expect(page.locator('#survivors').textContent()).resolves.toContain('601%');
        await page.screenshot({ path: `${OUT}incident.png`, fullPage: true });

        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.locator('[data-download="ko"]').click(),
        ]);
        expect(download.suggestedFilename()).toMatch(/^inc-.*\.ko\.md$/);
        const report = readFileSync(await download.path(), 'utf8');
        expect(report).toMatch(/[\uac00-\ud7a3]/); // Hangul: the Korean report
        expect(report).toContain(MIG);
        expect(report).toContain('NODE_HALTED');

        // Handled: the ladder rebooted the node, it came back, the incident resolved — shown live.
        await page.locator('.lead [data-state="resolved"]').waitFor({ timeout: 60_000 });
        const handledS = (performance.now() - started) / 1000;
        await expect(
          page.locator('#remediation .ladder h3 [data-state]').getAttribute('data-state'),
        ).resolves.toBe('succeeded');
        await expect(page.locator('.figures').textContent()).resolves.toMatch(/MTTR\d/);
        // What a laptop screen shows first (the README's picture).
        await page.evaluate('window.scrollTo(0, 0)');
        await page.screenshot({ path: `${OUT}incident-top.png` });
        writeFileSync(
          `${OUT}seed-timing.json`,
          JSON.stringify({ speed: Number(SPEED), demoStartToResolvedOnPageSeconds: handledS }) +
            '\n',
        );

        expect(errors).toEqual([]);
        expect(foreign).toEqual([]);
      } catch (error) {
        await page.screenshot({ path: `${OUT}seed-failure.png`, fullPage: true });
        throw new Error(`${String(error)}\n--- demo output ---\n${d.output()}`);
      } finally {
        await page.context().close();
      }
    });

    it('approve: a remediation step waits for a person and the Approve button runs it', async () => {
      const d = await demo('approve');
      const { page, foreign, errors } = await watchedPage(browser!, d.url.replace(/\/$/, ''));
      try {
        await page.goto(`${d.url}#/incidents`);
        await page.locator('tr[data-incident] a').first().click({ timeout: 60_000 });
        const approve = page.locator('button[data-approve]').first();
        await approve.waitFor({ timeout: 60_000 });
        const step = await approve.getAttribute('data-approve');
        expect(step).not.toBeNull();
        const item = page.locator(`li.step[data-step="${step}"]`);
        await expect(
          item.locator('.step-head [data-state]').getAttribute('data-state'),
        ).resolves.toBe('awaiting-approval');
        await page.screenshot({ path: `${OUT}approve-waiting.png`, fullPage: true });
        await approve.click();
        // The step leaves awaiting-approval and names who approved it.
        await item
          .locator('.step-head [data-state]:not([data-state="awaiting-approval"])')
          .waitFor({ timeout: 30_000 });
        await expect(item.textContent()).resolves.toContain('approved by');

        const overview = (await (await fetch(`${d.url}api/v1/remediations`)).json()) as {
          remediations: { steps: { step: string; status: string; approvedBy: string | null }[] }[];
        };
        const approved = overview.remediations.flatMap((r) => r.steps).find((s) => s.step === step);
        expect(approved?.status).not.toBe('awaiting-approval');
        expect(approved?.approvedBy).not.toBeNull();
        await page.locator('#remediation').screenshot({ path: `${OUT}remediation.png` });

        expect(errors).toEqual([]);
        expect(foreign).toEqual([]);
      } catch (error) {
        await page.screenshot({ path: `${OUT}approve-failure.png`, fullPage: true });
        throw new Error(`${String(error)}\n--- demo output ---\n${d.output()}`);
      } finally {
        await page.context().close();
      }
    });
  },
);
