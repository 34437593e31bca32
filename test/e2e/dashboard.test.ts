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

if (chromium.path === null && ci) {
  describe('dashboard in a browser', () => {
    it('has chromium to run in (CI installs it)', () => {
      throw new Error(`CI=true and ${missing}`);
    });
  });
}

/**
 * Structural accessibility of what is on screen: one h1, every button and
 * form control named, every chart named by its title and description, every
 * table with header cells. (Colour contrast is checked by hand: docs/dashboard.md.)
 */
async function accessibilityProblems(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const problems = [];
    const h1 = document.querySelectorAll('main h1').length;
    if (h1 !== 1) problems.push(h1 + ' h1 headings in main');
    for (const b of document.querySelectorAll('button'))
      if (!(b.getAttribute('aria-label') || b.textContent.trim())) problems.push('a button without a name');
    for (const c of document.querySelectorAll('select, input'))
      if (!(c.id && document.querySelector('label[for="' + c.id + '"]')) && !c.getAttribute('aria-label'))
        problems.push('a ' + c.tagName.toLowerCase() + ' without a label');
    for (const s of document.querySelectorAll('svg[role="img"]')) {
      const ids = (s.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean);
      if (ids.length === 0 || ids.some((id) => !document.getElementById(id)?.textContent.trim()))
        problems.push('a chart without a title or description');
    }
    for (const m of document.querySelectorAll('meter'))
      if (!m.getAttribute('aria-label')) problems.push('a meter without a label');
    for (const t of document.querySelectorAll('table'))
      if (!t.querySelector('thead th')) problems.push('a table without column headers');
    return problems;
  })()`);
}

describe.skipIf(chromium.path === null)(
  chromium.path === null
    ? `dashboard in a browser (skipped: ${missing})`
    : 'dashboard in a browser',
  () => {
    let browser: Browser | null = null;
    const demos: DemoProcess[] = [];

    beforeAll(async () => {
      if (!existsSync(BUNDLE))
        throw new Error(`the dashboard is not built (${BUNDLE} is missing): run npm run build`);
      mkdirSync(OUT, { recursive: true });
      browser = await launchChromium(chromium.path!);
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
        await expect(accessibilityProblems(page)).resolves.toEqual([]);

        // The mesh at L2: the survivors' agents fail the MIG node (and the layer can be switched).
        await page.getByRole('link', { name: 'Mesh' }).click();
        await page.getByLabel('Layer').selectOption('L2');
        await page.waitForURL(/#\/mesh\?layer=L2$/);
        await page.locator(`td.cell.failed[data-target="${MIG}"]`).first().waitFor();
        expect(
          await page.locator(`td.cell.failed[data-target="${MIG}"]`).count(),
        ).toBeGreaterThanOrEqual(2);
        await expect(accessibilityProblems(page)).resolves.toEqual([]);
        await page.screenshot({ path: `${OUT}mesh.png`, fullPage: true });
        await page.getByRole('link', { name: 'Overview' }).click();

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
        await expect(accessibilityProblems(page)).resolves.toEqual([]);

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
