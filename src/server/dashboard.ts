/**
 * Serves the dashboard bundle (`web/`, built by Vite into `dist/web/`) at
 * `/`: files with their content type; hashed `assets/*` cached for a year
 * (their names change with their content), everything else revalidated
 * (ETag); paths without a file extension fall back to `index.html` (the
 * dashboard routes in the browser); and, when the bundle was never built, a
 * page that says so and how to build it instead of a bare 404.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Route } from './ops-server.ts';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** The package's root: the nearest folder above this file with a package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

/** This package's version, from its package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** Where `npm run build` puts the dashboard. */
export const defaultDashboardRoot = (): string => join(packageRoot(), 'dist', 'web');

const notBuilt = (root: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NodeWarden — dashboard not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#111}code{background:#eee;padding:.1em .3em}</style>
</head><body>
<h1>The dashboard has not been built</h1>
<p>NodeWarden is running and its HTTP API answers at <a href="/api/v1/status"><code>/api/v1/status</code></a>
(routes: <a href="/api/v1/openapi.json"><code>/api/v1/openapi.json</code></a>), but there is no dashboard bundle in
<code>${root.replace(/[<>&]/g, '')}</code>.</p>
<p>Build it with <code>npm run build</code> (or start the demo with <code>npm start</code>, which builds first), then reload this page.</p>
</body></html>
`;

/** GET/HEAD of every path outside `/api/` and `/v1/` (those belong to the APIs). */
export function dashboardRoute(root: string = defaultDashboardRoot()): Route {
  const base = resolve(root);
  return async (req, res, url) => {
    if (url.pathname.startsWith('/api/') || url.pathname === '/api') return false;
    if (url.pathname.startsWith('/v1/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('the dashboard is read with GET\n');
      return true;
    }
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('bad URL encoding\n');
      return true;
    }
    const file = normalize(join(base, path));
    if (file !== base && !file.startsWith(base + sep)) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return true;
    }
    const index = join(base, 'index.html');
    let target = path.endsWith('/') ? join(file, 'index.html') : file;
    let info = await stat(target).catch(() => null);
    if (info?.isDirectory()) {
      target = join(target, 'index.html');
      info = await stat(target).catch(() => null);
    }
    if (info === null || !info.isFile()) {
      if (extname(path) !== '') {
        res
          .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
          .end(`no file ${path}\n`);
        return true;
      }
      target = index;
      info = await stat(index).catch(() => null);
      if (info === null) {
        res
          .writeHead(503, {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-store',
          })
          .end(req.method === 'HEAD' ? undefined : notBuilt(base));
        return true;
      }
    }
    const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const immutable = target.startsWith(join(base, 'assets') + sep);
    const headers = {
      'content-type': TYPES[extname(target)] ?? 'application/octet-stream',
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag,
      'x-content-type-options': 'nosniff',
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return true;
    }
    res.writeHead(200, { ...headers, 'content-length': String(info.size) });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    await new Promise<void>((done, fail) => {
      createReadStream(target).on('error', fail).on('end', done).pipe(res);
    });
    return true;
  };
}
