// Live replay of incidents 000 and 004 against a running Postfix (set up by ../live-postfix.sh).
// Real time, compressed: checks every 16 s (growth every 32 s, over a 2-minute window), ages in seconds.
//
// - A next hop on 127.0.0.1:2525 (the relayhost): a minimal SMTP server that accepts mail, and
//   answers 451 for the alias the flood goes to (the downstream throttles it, so it queues).
// - A loopback SMTP client submitting to 127.0.0.1:25 from chosen loopback source addresses
//   (127.0.0.12 = app1.corp.example, 127.0.0.7 = qa-app-07.qa.example, set in /etc/hosts), so
//   Postfix logs and records the client by name, as it did the QA server in incident 000.
// - The built checks run as real processes on a schedule; every run is kept.
//
// Phase 000: ordinary mail (1/s) for 112 s (growth's baseline spans a queue run), then the application floods qanotify@lab.example at
//   12 messages/s rising by 4/s every 15 s. Asserted: growth WARNING and CRITICAL within 3 of its
//   check intervals of onset (issue 15: a new regime is believed from its third sample); depth and log-flood name the alias and the sender (log-flood the client too).
// Phase 004: the queue emptied, ordinary mail (3/s) delivered to the next hop for 30 s; then the
//   next hop goes away (port closed) and everything defers. Asserted: growth on the deferred queue
//   within 3 intervals; oldest-age WARNING/CRITICAL within an interval of the (compressed) age limits.
//
// Usage: node drive.mjs DIST_DIR WORK_DIR   (root; prints a markdown table; exit 1 on a failed assertion)
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const [DIST, WORK] = process.argv.slice(2);
if (!DIST || !WORK) {
  console.error('usage: node drive.mjs DIST_DIR WORK_DIR');
  process.exit(2);
}
const SPOOL = '/var/spool/postfix';
const LOG = '/var/log/postfix.log';
const INTERVAL = 16_000;
// Growth runs every other round (32 s): its "rising in each of the last 3 samples" reading needs
// those samples to span at least a minute (MIN_SPAN), so at 15 s it could only use the lagging
// window slope, and at exactly 30 s timer jitter decides (59.99 s is not a minute).
const GROWTH_INTERVAL = 32;
const SINK_PORT = 2525;
const FLOOD = { sender: 'spocskulker@qa-app-07.qa.example', rcpt: 'qanotify@lab.example', from: '127.0.0.7', helo: 'qa-app-07.qa.example' };
const APP = { from: '127.0.0.12', helo: 'app1.corp.example' };
const FLOOD_PROFILE = ['-w', '2000', '-c', '10000', '--repeat-warning', '30', '--repeat-critical', '50', '--sender-warning', '30', '--sender-critical', '120', '--bounce-warning', '20', '--bounce-critical', '100'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(`[drive ${new Date().toISOString().slice(11, 19)}]`, ...a);

// ------------------------------------------------------------------ the next hop (SMTP sink)

function startSink(port, tempFail) {
  const sockets = new Set();
  const stats = { accepted: 0, tempFailed: 0 };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    let data = false;
    let rcpts = 0;
    sock.write('220 next-hop.lab.example ESMTP sink\r\n');
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      for (;;) {
        if (data) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buf = buf.slice(end + 5);
          data = false;
          stats.accepted++;
          sock.write('250 2.0.0 Ok: queued\r\n');
          continue;
        }
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') sock.write('250-next-hop.lab.example\r\n250 8BITMIME\r\n');
        else if (verb === 'HELO') sock.write('250 next-hop.lab.example\r\n');
        else if (verb === 'MAIL') {
          rcpts = 0;
          sock.write('250 2.1.0 Ok\r\n');
        } else if (verb === 'RCPT') {
          if (tempFail.test(line)) {
            stats.tempFailed++;
            sock.write('451 4.7.1 Too many messages for this recipient, slow down\r\n');
          } else {
            rcpts++;
            sock.write('250 2.1.5 Ok\r\n');
          }
        } else if (verb === 'DATA') {
          if (rcpts === 0) sock.write('554 5.5.1 No valid recipients\r\n');
          else {
            data = true;
            sock.write('354 End data with <CR><LF>.<CR><LF>\r\n');
          }
        } else if (verb === 'QUIT') {
          sock.end('221 2.0.0 Bye\r\n');
          return;
        } else sock.write('250 2.0.0 Ok\r\n'); // RSET, NOOP
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        stats,
        // The next hop goes away: no more connections, and the open ones are cut.
        stop: () => new Promise((r) => {
          server.close(() => r());
          for (const s of sockets) s.destroy();
        }),
      }),
    );
  });
}

// ------------------------------------------------------------------ a loopback SMTP client

class SmtpConn {
  constructor(localAddress, helo) {
    this.localAddress = localAddress;
    this.helo = helo;
    this.lines = [];
    this.waiters = [];
    this.buf = '';
  }

  async open() {
    this.sock = net.connect({ host: '127.0.0.1', port: 25, localAddress: this.localAddress });
    this.sock.setEncoding('latin1');
    this.sock.on('data', (s) => {
      this.buf += s;
      let i;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 2);
      }
      this.waiters.splice(0).forEach((w) => w());
    });
    this.closed = false;
    this.sock.on('error', (e) => (this.error = e));
    this.sock.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
    await this.reply(220);
    this.cmd(`EHLO ${this.helo}`);
    await this.reply(250);
  }

  cmd(line) {
    this.sock.write(`${line}\r\n`);
  }

  /** One (multi-line) reply; throws unless its code is `want`. Bounded: 10 s. */
  async reply(want) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const idx = this.lines.findIndex((l) => /^\d{3} /.test(l));
      if (idx >= 0) {
        const got = this.lines.splice(0, idx + 1);
        const last = got[got.length - 1];
        if (Number(last.slice(0, 3)) !== want) throw new Error(`SMTP: expected ${want}, got "${last}"`);
        return last;
      }
      if (this.closed) throw new Error(`SMTP: connection closed${this.error ? ` (${this.error.message})` : ''}`);
      if (Date.now() > deadline) throw new Error(`SMTP: no reply in 10 s (wanted ${want})`);
      await new Promise((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  async send(from, to, subject) {
    this.cmd(`MAIL FROM:<${from}>`);
    await this.reply(250);
    this.cmd(`RCPT TO:<${to}>`);
    await this.reply(250);
    this.cmd('DATA');
    await this.reply(354);
    const id = `${Date.now()}.${Math.random().toString(36).slice(2)}@${this.helo}`;
    this.sock.write(
      [`From: <${from}>`, `To: <${to}>`, `Subject: ${subject}`, `Date: ${new Date().toUTCString()}`, `Message-ID: <${id}>`, '', 'Lorem ipsum dolor sit amet.', '.', ''].join('\r\n'),
    );
    await this.reply(250);
  }

  async close() {
    if (this.closed) return;
    try {
      this.cmd('QUIT');
      await this.reply(221);
    } catch {
      /* closing anyway */
    }
    this.sock.destroy();
  }
}

/** Submit at `rate(secondsSinceStart)` messages per second over `conns` connections until stopped. */
function submitter({ from, helo, conns, rate, message }) {
  const st = { sent: 0, errors: 0, lastError: '', running: true };
  const started = Date.now();
  let due = 0;
  let last = started;
  const workers = Array.from({ length: conns }, async () => {
    let c;
    while (st.running) {
      const now = Date.now();
      due += ((now - last) / 1000) * rate((now - started) / 1000);
      last = now;
      if (due < 1) {
        await sleep(20);
        continue;
      }
      due -= 1;
      try {
        if (!c || c.closed) {
          c = new SmtpConn(from, helo);
          await c.open();
        }
        const m = message(st.sent);
        await c.send(m.from, m.to, m.subject);
        st.sent++;
      } catch (e) {
        st.errors++;
        st.lastError = e.message;
        c?.sock?.destroy();
        c = undefined;
        await sleep(200);
      }
    }
    await c?.close();
  });
  return {
    st,
    stop: async () => {
      st.running = false;
      await Promise.all(workers);
    },
  };
}

// ------------------------------------------------------------------ the checks

const STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];

function runCheck(bin, args) {
  return new Promise((resolve) => {
    const t = Date.now();
    execFile(process.execPath, [path.join(DIST, `${bin}.js`), ...args], { timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 3) : 0;
      resolve({ code, state: STATES[code] ?? 'UNKNOWN', out: stdout, stderr, line: stdout.split('\n')[0].split(' | ')[0], took: Date.now() - t });
    });
  });
}

async function phase({ id, checks, onset, afterRounds, untilDone, beforeRounds = 2 }) {
  const runs = [];
  const t0 = Date.now();
  let onsetAt;
  let round = 0;
  const maxRounds = beforeRounds + 1 + afterRounds;
  for (; round < maxRounds; round++) {
    const at = t0 + round * INTERVAL;
    if (Date.now() < at) await sleep(at - Date.now());
    for (const c of checks) {
      if (round % (c.every ?? 1) !== 0) continue;
      const r = await runCheck(c.bin, c.args);
      if (r.stderr) throw new Error(`${c.bin} wrote to stderr: ${r.stderr}`);
      const rec = { id, key: c.key, bin: c.bin, t: Date.now(), after: onsetAt === undefined ? null : (Date.now() - onsetAt) / 1000, ...r };
      runs.push(rec);
      log(`${id} ${c.key.padEnd(6)} ${rec.after === null ? 'before' : `+${rec.after.toFixed(0)}s`.padStart(6)} ${r.line.slice(0, 150)}`);
    }
    if (round === beforeRounds) {
      await onset();
      onsetAt = Date.now();
      log(`${id}: onset`);
    }
    if (onsetAt !== undefined && untilDone?.(runs)) break;
  }
  return { runs, onsetAt };
}

function first(runs, key, level) {
  return runs.find((r) => r.key === key && r.after !== null && (level === 'WARNING' ? r.code === 1 || r.code === 2 : r.code === 2));
}

const failures = [];
function expect(ok, what) {
  if (!ok) failures.push(what);
  log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
}

// ------------------------------------------------------------------ main

async function main() {
  const sink = await startSink(SINK_PORT, /qanotify@/i);
  const rows = [];
  const slack = 8; // s: checks run one after another, each a fresh process

  // ---- incident 000
  {
    const state = path.join(WORK, 'state-000');
    const checks = [
      { key: 'growth', bin: 'check-mailq-growth', every: 2, args: ['--mta', 'postfix', '--spool', SPOOL, '--state-dir', state, '--window', '2m', '-w', '100', '-c', '500'] },
      { key: 'depth', bin: 'check-mailq-depth', args: ['--mta', 'postfix', '--spool', SPOOL, '-w', '300', '-c', '1000', '--top', '3'] },
      { key: 'flood', bin: 'check-maillog-flood', args: ['--log', LOG, '--state-dir', state, ...FLOOD_PROFILE] },
    ];
    const app = submitter({ ...APP, conns: 1, rate: () => 1, message: (n) => ({ from: `app${n % 20}@corp.example`, to: `user${n % 50}@corp.example`, subject: 'report' }) });
    let flood;
    const { runs, onsetAt } = await phase({
      id: '000',
      checks,
      onset: async () => {
        flood = submitter({
          from: FLOOD.from,
          helo: FLOOD.helo,
          conns: 4,
          rate: (s) => 12 + 4 * Math.floor(s / 15),
          message: (n) => ({ from: FLOOD.sender, to: FLOOD.rcpt, subject: `ERROR: customer ${100000 + n} has no active services` }),
        });
      },
      // Growth's baseline must span one queue run before the onset (the check takes Postfix's default
      // 5-minute queue_run_delay, cut to half its 2-minute window: its history must span 96 s), and
      // a new regime is believed from its third sample: 7 rounds (112 s) before, up to 8 after.
      beforeRounds: 7,
      afterRounds: 8,
      untilDone: (rs) => ['growth', 'depth', 'flood'].every((k) => first(rs, k, 'CRITICAL') !== undefined),
    });
    await flood?.stop();
    await app.stop();
    log(`000: submitted ${app.st.sent} ordinary (${app.st.errors} errors), ${flood?.st.sent} flood (${flood?.st.errors} errors${flood?.st.lastError ? `: ${flood.st.lastError}` : ''})`);
    expect(app.st.errors === 0 && flood?.st.errors === 0, `000: every SMTP submission accepted (${app.st.sent + (flood?.st.sent ?? 0)} messages)`);
    for (const key of ['growth', 'depth', 'flood']) {
      const bad = runs.filter((r) => r.key === key && r.after === null && r.code !== 0);
      expect(bad.length === 0, `000 ${key}: OK before onset${bad.length ? ` (got ${bad[0].line})` : ''}`);
    }
    const gw = first(runs, 'growth', 'WARNING');
    const gc = first(runs, 'growth', 'CRITICAL');
    expect(gw && gw.after <= 3 * GROWTH_INTERVAL + slack, `000 growth: WARNING within 3 of its intervals of onset (${gw ? `+${gw.after.toFixed(0)}s` : 'never'})`);
    expect(gc && gc.after <= 3 * GROWTH_INTERVAL + slack, `000 growth: CRITICAL within 3 of its intervals of onset (${gc ? `+${gc.after.toFixed(0)}s` : 'never'})`);
    const dw = first(runs, 'depth', 'WARNING');
    expect(dw && dw.line.slice(0, 300).includes(`top sender ${FLOOD.sender}`) && dw.line.slice(0, 300).includes(`top recipient ${FLOOD.rcpt}`), `000 depth: names the sender and the alias (${dw ? dw.line.slice(0, 200) : 'never alerted'})`);
    const fc = first(runs, 'flood', 'CRITICAL');
    const fh = fc?.line.slice(0, 300) ?? '';
    expect(
      fc && fc.after <= 2 * INTERVAL / 1000 + slack && fh.includes(`sender ${FLOOD.sender}`) && fh.includes(`top recipient ${FLOOD.rcpt}`) && fh.includes(`top client ${FLOOD.helo}[${FLOOD.from}]`),
      `000 log-flood: CRITICAL naming sender, alias and client (${fc ? `+${fc.after.toFixed(0)}s ${fh.slice(0, 200)}` : 'never'})`,
    );
    for (const key of ['growth', 'depth', 'flood']) rows.push(row('000', checks.find((c) => c.key === key).bin, runs, key));
    log(`000: next hop accepted ${sink.stats.accepted}, answered 451 to ${sink.stats.tempFailed} (onset at ${new Date(onsetAt).toISOString()})`);
  }

  // ---- between: an empty queue again (the flood is not what 004 is about)
  execFileSync('postsuper', ['-d', 'ALL'], { stdio: 'pipe' });

  // ---- incident 004
  {
    const state = path.join(WORK, 'state-004');
    const checks = [
      { key: 'growth', bin: 'check-mailq-growth', every: 2, args: ['--mta', 'postfix', '--spool', SPOOL, '--state-dir', state, '--window', '2m', '--queue', 'deferred', '-w', '50', '-c', '500'] },
      { key: 'age', bin: 'check-mailq-depth', args: ['--mta', 'postfix', '--spool', SPOOL, '--queue', 'deferred', '--age-warning', '30s', '--age-critical', '60s'] },
      { key: 'flood', bin: 'check-maillog-flood', args: ['--log', LOG, '--state-dir', state, ...FLOOD_PROFILE, '--deferral-warning', '60', '--deferral-critical', '600'] },
    ];
    const app = submitter({ ...APP, conns: 2, rate: () => 3, message: (n) => ({ from: `news${n % 97}@sender${n % 13}.example`, to: `user${n % 300}@corp.example`, subject: 'inbound' }) });
    const { runs } = await phase({
      id: '004',
      checks,
      onset: () => sink.stop(),
      afterRounds: 6,
      untilDone: (rs) => first(rs, 'age', 'CRITICAL') !== undefined && first(rs, 'growth', 'WARNING') !== undefined,
    });
    await app.stop();
    log(`004: submitted ${app.st.sent} (${app.st.errors} errors)`);
    expect(app.st.errors === 0, `004: every SMTP submission accepted (${app.st.sent} messages)`);
    for (const key of ['growth', 'age', 'flood']) {
      const bad = runs.filter((r) => r.key === key && r.after === null && r.code !== 0);
      expect(bad.length === 0, `004 ${key}: OK before onset${bad.length ? ` (got ${bad[0].line})` : ''}`);
    }
    const gw = first(runs, 'growth', 'WARNING');
    expect(gw && gw.after <= 3 * GROWTH_INTERVAL + slack && /^MAILQ_GROWTH \w+ - deferred growing/.test(gw.line), `004 growth --queue deferred: WARNING within 3 of its intervals (${gw ? `+${gw.after.toFixed(0)}s ${gw.line.slice(0, 120)}` : 'never'})`);
    const aw = first(runs, 'age', 'WARNING');
    const ac = first(runs, 'age', 'CRITICAL');
    expect(aw && aw.after <= 30 + INTERVAL / 1000 + slack && / in deferred of [\d,]+ queued, oldest /.test(aw.line), `004 oldest age: WARNING within an interval of 30s (${aw ? `+${aw.after.toFixed(0)}s ${aw.line.slice(0, 120)}` : 'never'})`);
    expect(ac && ac.after <= 60 + INTERVAL / 1000 + slack, `004 oldest age: CRITICAL within an interval of 60s (${ac ? `+${ac.after.toFixed(0)}s` : 'never'})`);
    for (const key of ['growth', 'age', 'flood']) rows.push(row('004', checks.find((c) => c.key === key).bin, runs, key));
  }

  console.log('| incident | check | first WARNING | first CRITICAL | first line of the first alert |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  if (failures.length) {
    console.error(`\n${failures.length} assertion(s) failed:\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  console.error('\nall live assertions passed');
  process.exit(0);
}

function row(id, bin, runs, key) {
  const w = first(runs, key, 'WARNING');
  const c = first(runs, key, 'CRITICAL');
  const t = (r) => (r ? `+${Math.round(r.after)}s` : '—');
  const line = (w ?? c)?.line ?? '(no alert)';
  return [id, bin, t(w), t(c), `\`${line.length > 160 ? `${line.slice(0, 159)}…` : line}\``];
}

// Bounded: whatever happens, this process ends.
setTimeout(() => {
  console.error('drive.mjs: overall time limit (450 s) reached');
  process.exit(1);
}, 450_000).unref();
main().catch((e) => {
  console.error(`drive.mjs: ${e.stack ?? e}`);
  process.exit(1);
});
