/**
 * Builds the dashboards (web/src, Preact + ECharts) into web/dist with esbuild: one minified ES module,
 * the stylesheet and index.html. Prints each file's size, raw and gzipped. Run by `npm start`, by the
 * test setup and before a deploy (the Web stack uploads web/dist as it is).
 *
 *   node --import tsx scripts/build-web.ts [--check-size]   (--check-size: exit 1 over the budget)
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const WEB_DIST = path.join(ROOT, 'web', 'dist');
/** The bundle's budget, gzipped: ECharts (heatmap, line, bar, SVG) is most of it. */
export const BUNDLE_BUDGET_GZIP_BYTES = 250 * 1024;

export async function buildWeb(opts: { quiet?: boolean } = {}): Promise<{ file: string; bytes: number; gzip_bytes: number }[]> {
  rmSync(WEB_DIST, { recursive: true, force: true });
  mkdirSync(WEB_DIST, { recursive: true });
  await build({
    entryPoints: [path.join(ROOT, 'web/src/main.tsx')],
    outfile: path.join(WEB_DIST, 'app.js'),
    bundle: true,
    format: 'esm',
    minify: true,
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: path.join(ROOT, 'web/tsconfig.json'),
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'none',
    logLevel: 'warning',
  });
  copyFileSync(path.join(ROOT, 'web/index.html'), path.join(WEB_DIST, 'index.html'));
  copyFileSync(path.join(ROOT, 'web/app.css'), path.join(WEB_DIST, 'app.css'));
  const sizes = readdirSync(WEB_DIST).sort().map((file) => {
    const buf = readFileSync(path.join(WEB_DIST, file));
    return { file, bytes: buf.length, gzip_bytes: gzipSync(buf, { level: 9 }).length };
  });
  if (!opts.quiet) for (const s of sizes) console.log(`web/dist/${s.file}: ${(s.bytes / 1024).toFixed(1)} KiB, ${(s.gzip_bytes / 1024).toFixed(1)} KiB gzipped`);
  return sizes;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const sizes = await buildWeb();
  const total = sizes.reduce((n, s) => n + s.gzip_bytes, 0);
  console.log(`total ${(total / 1024).toFixed(1)} KiB gzipped (budget ${BUNDLE_BUDGET_GZIP_BYTES / 1024} KiB)`);
  if (process.argv.includes('--check-size') && total > BUNDLE_BUDGET_GZIP_BYTES) process.exit(1);
}
