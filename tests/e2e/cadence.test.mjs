// Drawing cadence (issue 5, frame time): a draw costs about the same at any
// feed rate, so under a busy feed the page asks its engine worker for a view
// every second frame (from 25k events/s) or every third (from 100k), and
// with every frame below 25k (stagger.rs `frames_per_view`). A gateway with
// a paced history (`--resume-pace`) feeds the page 10k events/s, then 150k;
// the test counts the views drawn (the health strip's `data-last-seq`
// changes) against the animation frames in each phase.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchBrowser, openDashboard } from './harness.mjs';
import { pacedStart, prefilled } from '../bench/lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Seconds: a pause, 10k events/s, then 150k (the strip's events/s is the
// mean of the last 5 s, so it passes 100k about 3.5 s into the fast phase).
const PHASES = [[0, 2], [10_000, 5], [150_000, 8]];

test('under a busy feed the page draws a view every third frame, below 25k events/s every frame', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shoppulse-cadence-'));
  const events = PHASES.reduce((n, [r, s]) => n + r * s, 0);
  const { gw, epoch } = await prefilled(events, ['--batch', '100',
    '--resume-pace', PHASES.map(([r, s]) => `${r}:${s}`).join(',')], { dir });
  const browser = await launchBrowser();
  try {
    const before = Date.now();
    const { page, errors } = await openDashboard(browser, `${gw.url}/?bench_resume_epoch=${encodeURIComponent(epoch)}`);
    await page.evaluate(() => {
      const c = (window.__cadence = { frames: 0, views: 0 });
      const loop = () => { c.frames += 1; requestAnimationFrame(loop); };
      requestAnimationFrame(loop);
      new MutationObserver(() => { c.views += 1; })
        .observe(document.querySelector('[data-last-seq]'), { attributes: true, attributeFilter: ['data-last-seq'] });
    });
    const start = await pacedStart(gw, before);
    const at = (s) => sleep(Math.max(0, start + s * 1000 - Date.now()));
    /** Views drawn per animation frame from second `from` to `to` of the schedule. */
    const ratio = async (from, to) => {
      await at(from);
      const a = await page.evaluate(() => ({ ...window.__cadence }));
      await at(to);
      const b = await page.evaluate(() => ({ ...window.__cadence }));
      return { views: b.views - a.views, frames: b.frames - a.frames, ratio: (b.views - a.views) / (b.frames - a.frames) };
    };
    const slow = await ratio(3.5, 6.5);
    const fast = await ratio(12, 14.5);
    const rate = await page.getByTestId('events-rate').first().innerText().catch(() => '?');
    t.diagnostic(`views per frame: ${slow.views}/${slow.frames} at 10k events/s, ${fast.views}/${fast.frames} at 150k (strip: ${rate} events/s)`);
    // 10k events/s in frames of 100: a view with (nearly) every frame.
    assert.ok(slow.ratio >= 0.7, `at 10k events/s ${slow.views} views in ${slow.frames} frames`);
    // 150k: one view in three frames (no more than 0.4 allows for a frame that came late).
    assert.ok(fast.ratio <= 0.4 && fast.ratio >= 0.2, `at 150k events/s ${fast.views} views in ${fast.frames} frames`);
    assert.deepEqual(errors, []);
    await page.context().close();
  } finally {
    await browser.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
