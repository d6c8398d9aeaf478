// The incident charts (docs/img/incident-NNN.svg, written by the incident tests; `npm run demo` draws
// 001's) as a user's browser draws them: Debian's real Chromium renders each one headless to a PNG,
// and the pixels must show what the SVG says: a picture of the right size that is not blank, the
// axes of every panel, the data lines, and every WARNING/CRITICAL marker as a solid vertical line of
// its colour where the SVG puts it. On CI (root, CI=true) a missing chromium is installed by
// chart-setup.sh; elsewhere the test says how and skips.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COLORS } from '../../bench/chart.js';
import { countColour, readPng } from '../helpers/png.js';

const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || undefined;
const setup = (() => {
  if (which('chromium') || process.env.CI !== 'true' || process.getuid?.() !== 0) return '';
  const r = spawnSync('bash', [path.join(__dirname, 'chart-setup.sh')], { encoding: 'utf8' });
  return r.status === 0 ? '' : `chart-setup.sh failed: ${(r.stdout + r.stderr).trim().split('\n').slice(-2).join(' / ')}`;
})();
const chromium = which('chromium');
const skip = setup || (chromium ? '' : 'chromium not installed: `sudo bash test/integration/chart-setup.sh` (CI does)');
if (skip && process.env.CI === 'true') throw new Error(`chart-render.test.ts cannot run on CI: ${skip}`);
if (skip) console.warn(`chart-render.test.ts skipped: ${skip}`);

const IMG = path.join(__dirname, '../../docs/img');
const charts = fs.existsSync(IMG) ? fs.readdirSync(IMG).filter((f) => /^incident-\d{3}\.svg$/.test(f)) : [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-render-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function render(svgFile: string, width: number, height: number): Buffer {
  const png = path.join(tmp, `${path.basename(svgFile, '.svg')}.png`);
  const profile = fs.mkdtempSync(path.join(tmp, 'profile-'));
  const r = spawnSync(
    chromium!,
    ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1', `--user-data-dir=${profile}`, `--window-size=${width},${height}`, `--screenshot=${png}`, `file://${svgFile}`],
    { encoding: 'utf8', timeout: 120_000 },
  );
  expect(fs.existsSync(png), `chromium wrote no PNG (exit ${r.status}): ${r.stderr.split('\n').slice(-3).join(' / ')}`).toBe(true);
  return fs.readFileSync(png);
}

describe.skipIf(skip !== '')('the incident charts in a real browser', () => {
  it('there is a chart for every incident', () => {
    expect(charts.sort()).toEqual(['incident-000.svg', 'incident-001.svg', 'incident-002.svg', 'incident-003.svg', 'incident-004.svg']);
  });

  for (const name of charts)
    it(`${name}: drawn at its size, not blank, axes, lines and every marker where the SVG puts it`, () => {
      const file = path.join(IMG, name);
      const svg = fs.readFileSync(file, 'utf8');
      const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)![1]);
      const height = Number(/<svg [^>]*height="(\d+)"/.exec(svg)![1]);
      const p = readPng(render(file, width, height));
      expect([p.width, p.height]).toEqual([width, height]);
      const white = countColour(p, '#ffffff', 4);
      expect(white / (width * height)).toBeLessThan(0.97);
      expect(white / (width * height)).toBeGreaterThan(0.5);
      // Every panel: its axes (x and y) are drawn along their whole length (over the data lines).
      const axes = [...svg.matchAll(/<line class="axis" x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)"/g)].map((m) => m.slice(1).map(Number));
      expect(axes.length).toBeGreaterThanOrEqual(4);
      for (const [x1, y1, x2, y2] of axes) {
        const region = { x0: Math.floor(Math.min(x1, x2)) - 1, y0: Math.floor(Math.min(y1, y2)) - 1, x1: Math.ceil(Math.max(x1, x2)) + 2, y1: Math.ceil(Math.max(y1, y2)) + 2 };
        const along = Math.max(x2 - x1, y2 - y1);
        expect(countColour(p, COLORS.axis, 60, region), `axis ${x1},${y1}-${x2},${y2}`).toBeGreaterThan(along * 0.9);
      }
      expect(countColour(p, COLORS.line, 40)).toBeGreaterThan(200);
      // Every marker: a vertical line of its colour from the panel's top to its bottom.
      const markers = [...svg.matchAll(/<line class="marker" data-state="(WARNING|CRITICAL)" data-t="\d+" x1="([\d.]+)" y1="([\d.]+)" x2="[\d.]+" y2="([\d.]+)"/g)];
      expect(markers.length).toBeGreaterThan(0);
      for (const m of markers) {
        const [state, x, y1, y2] = [m[1] as 'WARNING' | 'CRITICAL', Number(m[2]), Number(m[3]), Number(m[4])];
        const region = { x0: Math.round(x) - 2, y0: Math.ceil(y1), x1: Math.round(x) + 3, y1: Math.floor(y2) };
        // The line is 3 px wide (anti-aliased over 3-4 columns); text and the data line cross it in places.
        expect(countColour(p, COLORS[state], 40, region), `${state} marker at x=${x}`).toBeGreaterThan((y2 - y1) * 1.5);
      }
    });
});
