// InfluxDB line protocol (1.x /write, 2.x /api/v2/write, Telegraf's exec input with
// data_format = "influx"). One line for the check, one more per set of dimensions:
//
//   mailq_depth,check=mailq_depth,host=mx1,mta=postfix state=1i,summary="30 messages queued ...",total=30i,bytes=476748i 1796151043000000000
//   mailq_depth,check=mailq_depth,host=mx1,mta=postfix,queue=deferred queue_messages=23i 1796151043000000000
//
// measurement: the check id. Tags: check, host (the host name), mta, spool, suffix, then the
// metric's dimensions (queue, filesystem), sorted by key as InfluxDB recommends; a tag with no value
// is left out (the protocol has no empty tag). Fields: state (the exit code, integer) and summary
// (string) on the check's line, then each metric under its label (on a dimension line: its family),
// with the value the Nagios perfdata shows (percent stays 0..100, unlike prometheus' ratios). An
// integer field is a metric the check declares whole (counts, bytes): written `23i` every run, as
// influxd refuses a field that was an integer once and a float later; everything else is a float.
// Timestamp: the run's clock in nanoseconds. Escapes: measurement ',' and ' '; tag keys, tag values
// and field keys ',', '=' and ' ' (a '\' right before one of those, or at the end, is '_': influxd
// could not read it back); string fields '"' and '\'. Line breaks and control characters were already
// made spaces and '?' (outputText).

import type { CheckResult, Metric } from '../result.js';
import { outputText } from '../text.js';
import { baseLabels, dimLabels, familyOf } from './labels.js';
import { plainNumber } from './nagios.js';

export const escapeMeasurement = (s: string): string =>
  outputText(s)
    .replace(/\\+(?=[, ]|$)/g, (t) => '_'.repeat(t.length))
    .replace(/[, ]/g, (c) => `\\${c}`) || '_';
/** Tag keys, tag values and field keys. influxd reads '\' as "take the next character as it is" and
 *  unescapes only '\,', '\=' and '\ ': a '\' before one of those (or at the end, before the
 *  separator) cannot be written so that it reads back the same, so it is '_'. */
export const escapeKey = (s: string): string =>
  outputText(s)
    .replace(/\\+(?=[,= ]|$)/g, (t) => '_'.repeat(t.length))
    .replace(/[,= ]/g, (c) => `\\${c}`) || '_';
export const escapeString = (s: string): string => outputText(s).replace(/[\\"]/g, (c) => `\\${c}`);

const isInteger = (m: Metric) => m.integer === true || m.uom === 'B' || m.uom === 'c';
/** influxd's integers are int64: a whole value past that is left out, as a non-finite one is. */
const INT64_MAX = 2 ** 63 - 1024;
const fieldValue = (m: Metric): string | undefined => {
  if (!isInteger(m)) return plainNumber(m.value);
  const v = Math.round(m.value);
  return Math.abs(v) <= INT64_MAX ? `${plainNumber(v)}i` : undefined;
};

/** Epoch seconds (fractional: the injected clock's milliseconds) as integer nanoseconds. */
export const nanoseconds = (t: number): string => (BigInt(Math.round(t * 1000)) * 1_000_000n).toString();

export function renderInflux(r: CheckResult, hostname?: string, suffix?: string): string {
  const base = baseLabels(r, suffix);
  if (hostname) base.splice(1, 0, ['host', outputText(hostname)]);
  const measurement = escapeMeasurement(r.check);
  const ts = nanoseconds(r.time);
  const lines = new Map<string, { tags: string; fields: Map<string, string> }>();
  const lineOf = (dims: [string, string][]) => {
    const tags = [...base, ...dims]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `,${escapeKey(k)}=${escapeKey(v)}`)
      .join('');
    let l = lines.get(tags);
    if (!l) lines.set(tags, (l = { tags, fields: new Map() }));
    return l;
  };
  const main = lineOf([]);
  main.fields.set('state', `${r.state}i`);
  main.fields.set('summary', `"${escapeString(r.summary)}"`);
  for (const m of r.metrics) {
    const value = Number.isFinite(m.value) ? fieldValue(m) : undefined;
    if (value === undefined) continue;
    const dims = dimLabels(m, base);
    const l = dims.length ? lineOf(dims) : main;
    // influxd 1.x refuses a field called time (it is the timestamp's name in queries).
    const key = escapeKey(dims.length ? familyOf(m) : m.label).replace(/^time$/, 'time_');
    // A field is written once per line: a later metric of the same key is left out.
    if (!l.fields.has(key)) l.fields.set(key, value);
  }
  return [...lines.values()]
    .map((l) => `${measurement}${l.tags} ${[...l.fields].map(([k, v]) => `${k}=${v}`).join(',')} ${ts}\n`)
    .join('');
}
