/**
 * Headless Chromium for the browser tests: Debian's `chromium` package (not
 * a browser build downloaded by Playwright — nothing is fetched), driven by
 * `playwright-core`. `NODEWARDEN_CHROMIUM` names another binary.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];

/** The first executable Chromium, or null with what was tried. */
export function findChromium(): { path: string | null; tried: readonly string[] } {
  const env = process.env['NODEWARDEN_CHROMIUM'];
  const tried = env === undefined || env === '' ? CANDIDATES : [env];
  for (const path of tried) {
    try {
      accessSync(path, constants.X_OK);
      return { path, tried };
    } catch {
      // Not here: try the next one.
    }
  }
  return { path: null, tried };
}

/** The flags the issue asks for: no sandbox (root in CI), no GPU, no background traffic. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}
