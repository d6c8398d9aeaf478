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
// and field keys ',', '=' and ' '; string fields '"' and '\'. Line breaks and control characters
// were already made spaces and '?' (outputText).

import type { CheckResult, Metric } from '../result.js';
import { outputText } from '../text.js';
import { baseLabels, dimLabels, familyOf } from './labels.js';
import { plainNumber } from './nagios.js';

export const escapeMeasurement = (s: string): string => outputText(s).replace(/[, ]/g, (c) => `\\${c}`);
/** Tag keys, tag values and field keys. A trailing '\' would escape the separator after it: it is '_'. */
export const escapeKey = (s: string): string =>
  outputText(s)
    .replace(/\\+$/, (t) => '_'.repeat(t.length))
    .replace(/[,= ]/g, (c) => `\\${c}`) || '_';
export const escapeString = (s: string): string => outputText(s).replace(/[\\"]/g, (c) => `\\${c}`);

const isInteger = (m: Metric) => m.integer === true || m.uom === 'B' || m.uom === 'c';
const fieldValue = (m: Metric) => (isInteger(m) ? `${plainNumber(Math.round(m.value))}i` : plainNumber(m.value));

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
    if (!Number.isFinite(m.value)) continue;
    const dims = dimLabels(m, base);
    const l = dims.length ? lineOf(dims) : main;
    const key = escapeKey(dims.length ? familyOf(m) : m.label);
    // A field is written once per line: a later metric of the same key is left out.
    if (!l.fields.has(key)) l.fields.set(key, fieldValue(m));
  }
  return [...lines.values()]
    .map((l) => `${measurement}${l.tags} ${[...l.fields].map(([k, v]) => `${k}=${v}`).join(',')} ${ts}\n`)
    .join('');
}
