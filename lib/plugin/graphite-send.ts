// --graphite-send HOST:PORT: push the graphite lines over TCP (carbon's plaintext protocol) for cron
// and Nagios setups that feed Graphite directly (incident 001's `mqtotal`). A failure is a note in
// the long output, never a change of the check's state.

import net from 'node:net';
import { UnknownError } from './errors.js';

export interface GraphiteTarget {
  host: string;
  port: number;
}

export function parseGraphiteTarget(raw: string): GraphiteTarget {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535)
    throw new UnknownError(`invalid --graphite-send '${raw}'`, 'give HOST:PORT, e.g. 127.0.0.1:2003');
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

/** Send the lines; resolves with a one-line note either way (never rejects). */
export function sendGraphite(target: GraphiteTarget, lines: string, timeoutMs: number): Promise<string> {
  const where = `${target.host}:${target.port}`;
  const count = lines.split('\n').filter(Boolean).length;
  if (count === 0) return Promise.resolve(`graphite: nothing to send to ${where}`);
  return new Promise((resolve) => {
    let done = false;
    const finish = (note: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(note);
    };
    const sock = net.createConnection({ host: target.host, port: target.port });
    const timer = setTimeout(() => finish(`graphite: not sent to ${where} (no answer within ${timeoutMs} ms)`), timeoutMs);
    sock.on('error', (err) => finish(`graphite: not sent to ${where} (${(err as NodeJS.ErrnoException).code ?? err.message})`));
    sock.on('connect', () => {
      sock.end(lines, () => finish(`graphite: sent ${count} metric${count === 1 ? '' : 's'} to ${where}`));
    });
  });
}
