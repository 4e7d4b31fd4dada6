#!/usr/bin/env node
// Drives Debian's Chromium, headless, through playwright-core: plays titles
// with hls.js on tests/e2e/page/e2e.html and the example player page, and
// prints what it saw as one JSON document on stdout. It decides nothing:
// tests/e2e/e2elib/browser.py holds the assertions.
//
//   node browser.js SPEC.json
//
// SPEC: { base, chromium, waitMs, titles: [{ name, src, audioSwitch }],
//         player: { name, src } | null, subtitles: { name, src, seekTo } | null }
'use strict';

const fs = require('fs');
const { chromium } = require('playwright-core');

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const WAIT = spec.waitMs || 60000;
const ADVANCE = 1.0;   // seconds of playback that count as "it plays"

const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--autoplay-policy=no-user-gesture-required',
];

// Waits for fn(arg) to be truthy in the page; returns its value, or null
// (with a note in out.timeouts) when it did not happen within WAIT ms.
async function waitIn(page, out, what, fn, arg) {
  try {
    const h = await page.waitForFunction(fn, arg, { timeout: WAIT, polling: 50 });
    return await h.jsonValue();
  } catch (e) {
    out.timeouts.push(what + ': ' + String(e.message || e).split('\n')[0]);
    return null;
  }
}

function trackResponses(page, responses, pending) {
  page.on('response', (resp) => {
    const url = resp.url();
    if (!/\.(ts|m3u8)(\?|$)/.test(url)) return;
    const rec = { url, status: resp.status(),
                  contentLength: resp.headers()['content-length'] ?? null,
                  bodyLength: null, bodyError: null };
    responses.push(rec);
    pending.push(resp.body().then(
      (b) => { rec.bodyLength = b.length; },
      (e) => { rec.bodyError = String(e.message || e).split('\n')[0]; }));
  });
}

const state = () => window.e2e;

async function marks(page) {
  return page.evaluate(() => ({ ev: window.e2e.events.length,
                                frag: window.e2e.frags.length,
                                t: window.e2e.video.currentTime }));
}

// Waits until the video has played `by` seconds past `from` (not paused).
function advanced(page, out, what, from, by) {
  return waitIn(page, out, what, ([f, b]) => {
    const v = window.e2e.video;
    return !v.paused && v.currentTime >= f + b ? v.currentTime : null;
  }, [from, by]);
}

// Waits for an event named `name` after index `after` whose data matches
// `match` (shallow); returns [index, currentTime].
function eventAfter(page, out, what, name, after, match) {
  return waitIn(page, out, what, ([n, a, m]) => {
    const evs = window.e2e.events;
    for (let i = a; i < evs.length; i++) {
      if (evs[i][0] !== n) continue;
      const d = evs[i][1] || {};
      if (Object.keys(m).every((k) => d[k] === m[k])) return [i, evs[i][2]];
    }
    return null;
  }, [name, after, match]);
}

async function playTitle(browser, t) {
  const out = { name: t.name, src: t.src, timeouts: [], steps: {} };
  const page = await browser.newPage();
  const responses = [], pending = [];
  trackResponses(page, responses, pending);
  page.on('console', (m) => {
    if (spec.debug || m.type() === 'error') (out.console ||= []).push(m.type() + ': ' + m.text());
  });
  page.on('pageerror', (e) => (out.pageErrors ||= []).push(String(e)));
  try {
    await page.goto(spec.base + '/_player/e2e.html?src=' + encodeURIComponent(t.src)
                    + (spec.debug ? '&debug=1' : ''));
    out.supported = await page.evaluate(() => window.e2e.supported);
    out.mse = await page.evaluate(() => window.e2e.mse);
    if (!out.supported) return out;

    const parsed = await eventAfter(page, out, 'manifest', 'MANIFEST_PARSED', 0, {});
    if (!parsed) return out;
    out.manifest = await page.evaluate((i) => window.e2e.events[i][1], parsed[0]);

    // 1. playback starts and currentTime advances
    const playing = await eventAfter(page, out, 'playing', 'video:playing', 0, {});
    const p0 = playing ? playing[1] : 0;
    out.steps.play = { startedAt: p0,
                       reached: await advanced(page, out, 'play advance', p0, ADVANCE) };

    // 2. forced level switch
    const cur = await page.evaluate(() => window.e2e.hls.currentLevel);
    const nLevels = out.manifest.levels.length;
    if (nLevels >= 2) {
      const target = cur === nLevels - 1 ? 0 : nLevels - 1;
      const m = await marks(page);
      await page.evaluate((n) => { window.e2e.hls.currentLevel = n; }, target);
      const sw = await eventAfter(page, out, 'level switched', 'LEVEL_SWITCHED', m.ev,
                                  { level: target });
      const s = { from: cur, to: target, switchedAt: sw ? sw[1] : null };
      if (sw) {
        s.reached = await advanced(page, out, 'advance after level switch', sw[1], ADVANCE);
        s.mainFragsAfter = await page.evaluate((i) => window.e2e.frags.slice(i)
          .filter((f) => f.type === 'main').map((f) => ({ level: f.level, sn: f.sn, url: f.url })),
          m.frag);
      }
      out.steps.levelSwitch = s;
    }

    // 3. seek to the middle
    {
      const dur = await page.evaluate(() => window.e2e.video.duration);
      const mid = dur / 2;
      const m = await marks(page);
      await page.evaluate((x) => { window.e2e.video.currentTime = x; }, mid);
      const sk = await eventAfter(page, out, 'seeked', 'video:seeked', m.ev, {});
      const s = { duration: dur, target: mid, seekedAt: sk ? sk[1] : null };
      if (sk) {
        s.reached = await advanced(page, out, 'advance after seek', mid, ADVANCE);
        s.fragsAfter = await page.evaluate((i) => window.e2e.frags.slice(i)
          .map((f) => ({ type: f.type, level: f.level, sn: f.sn, start: f.start,
                         duration: f.duration, url: f.url })), m.frag);
        s.timesAfter = await page.evaluate((i) => window.e2e.events.slice(i)
          .map((e) => e[2]), m.ev);
      }
      out.steps.seek = s;
    }

    // 4. audio track switch
    if (t.audioSwitch) {
      const tracks = await page.evaluate(() => window.e2e.hls.audioTracks.length);
      const before = await page.evaluate(() => window.e2e.hls.audioTrack);
      const target = before === 1 ? 0 : 1;
      const s = { tracks, from: before, to: target };
      if (tracks >= 2) {
        const m = await marks(page);
        await page.evaluate((n) => { window.e2e.hls.audioTrack = n; }, target);
        const sw = await eventAfter(page, out, 'audio track switched', 'AUDIO_TRACK_SWITCHED',
                                    m.ev, { id: target });
        s.switchedAt = sw ? sw[1] : null;
        if (sw) {
          s.reached = await advanced(page, out, 'advance after audio switch', sw[1], ADVANCE);
          s.audioFragsAfter = await page.evaluate((i) => window.e2e.frags.slice(i)
            .filter((f) => f.type === 'audio').map((f) => ({ sn: f.sn, url: f.url })), m.frag);
        }
      }
      out.steps.audioSwitch = s;
    }
  } catch (e) {
    out.exception = String(e.stack || e);
  } finally {
    try {
      out.errors = await page.evaluate(() => window.e2e ? window.e2e.errors : []);
      out.frags = await page.evaluate(() => window.e2e ? window.e2e.frags.map((f) => f.url) : []);
      out.events = await page.evaluate(() => window.e2e ? window.e2e.events.map(
        (e) => [e[0], e[2]]) : []);
    } catch (e) { out.errors = out.errors || []; }
    await page.close();       // stops hls.js loading; body() promises settle
    await Promise.allSettled(pending);
    out.responses = responses;
  }
  return out;
}

// Subtitles: the tracks hls.js lists; then the first one shown, a seek,
// and the cue active at the time sought.
async function subtitleTitle(browser, t) {
  const out = { name: t.name, src: t.src, timeouts: [] };
  const page = await browser.newPage();
  page.on('pageerror', (e) => (out.pageErrors ||= []).push(String(e)));
  try {
    await page.goto(spec.base + '/_player/e2e.html?src=' + encodeURIComponent(t.src));
    out.supported = await page.evaluate(() => window.e2e.supported);
    if (!out.supported) return out;
    const listed = await waitIn(page, out, 'subtitle tracks', () => {
      const h = window.e2e.hls;
      return h && h.subtitleTracks && h.subtitleTracks.length ? true : null;
    });
    if (!listed) return out;
    out.tracks = await page.evaluate(() => window.e2e.hls.subtitleTracks.map((s) => (
      { name: s.name, lang: s.lang, forced: !!s.forced, default: !!s.default,
        url: s.url })));
    await waitIn(page, out, 'playing', () => (window.e2e.video.currentTime > 0.5 ? true : null));
    await page.evaluate(() => {
      window.e2e.hls.subtitleDisplay = true;
      window.e2e.hls.subtitleTrack = 0;
    });
    await page.evaluate((x) => { window.e2e.video.currentTime = x; }, t.seekTo);
    out.cue = await waitIn(page, out, 'active cue after the seek', () => {
      const v = window.e2e.video;
      for (const track of Array.from(v.textTracks)) {
        if (track.mode !== 'showing' || !track.activeCues || !track.activeCues.length) continue;
        const c = track.activeCues[0];
        return { text: c.text, start: c.startTime, end: c.endTime, at: v.currentTime,
                 label: track.label, language: track.language };
      }
      return null;
    });
  } catch (e) {
    out.exception = String(e.stack || e);
  } finally {
    await page.close();
  }
  return out;
}

// The example page: it must play and list every level, audio track and
// subtitle track in its menus.
async function examplePlayer(browser, t) {
  const out = { name: t.name, src: t.src, timeouts: [] };
  const page = await browser.newPage();
  page.on('pageerror', (e) => (out.pageErrors ||= []).push(String(e)));
  try {
    await page.goto(spec.base + '/_player/player.html?src=' + encodeURIComponent(t.src));
    const menus = await waitIn(page, out, 'quality menu', () => {
      const q = document.getElementById('quality');
      return q.options.length > 0 ? true : null;
    });
    out.quality = await page.evaluate(() => Array.from(
      document.getElementById('quality').options).map((o) => [o.value, o.textContent]));
    out.audio = await page.evaluate(() => Array.from(
      document.getElementById('audio').options).map((o) => [o.value, o.textContent]));
    await waitIn(page, out, 'subtitle menu', () => (
      document.getElementById('subtitles').options.length > 1 ? true : null));
    out.subtitles = await page.evaluate(() => Array.from(
      document.getElementById('subtitles').options).map((o) => [o.value, o.textContent]));
    if (menus) {
      // the play button, as a person would press it
      await page.evaluate(() => document.getElementById('video').play());
      out.reached = await waitIn(page, out, 'player advance', (by) => {
        const v = document.getElementById('video');
        return !v.paused && v.currentTime >= by ? v.currentTime : null;
      }, ADVANCE);
    }
    out.status = await page.evaluate(() => document.getElementById('status').textContent);
  } catch (e) {
    out.exception = String(e.stack || e);
  } finally {
    await page.close();
  }
  return out;
}

(async () => {
  const result = { titles: [], player: null };
  let browser;
  try {
    browser = await chromium.launch({ executablePath: spec.chromium, args: ARGS });
    result.version = browser.version();
    for (const t of spec.titles) result.titles.push(await playTitle(browser, t));
    if (spec.player) result.player = await examplePlayer(browser, spec.player);
    if (spec.subtitles) result.subtitles = await subtitleTitle(browser, spec.subtitles);
  } catch (e) {
    result.exception = String(e.stack || e);
  } finally {
    if (browser) await browser.close();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
})();
