import { defineConfig } from 'vite';

/**
 * The dashboard bundle. `npm run build` writes it to dist/web/ (the path the
 * API server serves at `/`, see web/README.md). Everything is bundled: no
 * CDN, no web font, no request leaves the page's own origin. `base: './'`
 * keeps asset URLs relative so the bundle also works behind a path prefix.
 *
 * `npx vite --config web/vite.config.ts` starts a dev server that proxies
 * /api to a running demo (NODEWARDEN_API, default http://127.0.0.1:8080).
 */
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    // Inline nothing as data: URLs and keep one CSS file: the page is small.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/api': process.env['NODEWARDEN_API'] ?? 'http://127.0.0.1:8080' },
  },
});
