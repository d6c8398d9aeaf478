// A big MTA listing on stdout, made by repeating a captured one with fresh queue IDs:
//   node gen-listing.mjs postfix|exim|sendmail MB|forever [COUNT_FILE]
// Writes synchronously, so a slow reader slows it down (a pipe's backpressure). Writes the number of
// messages printed to COUNT_FILE when done.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [kind, size, countFile] = process.argv.slice(2);
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/mta');
const limit = size === 'forever' ? Infinity : Number(size) * 1024 * 1024;
const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const b62 = (x, w) => {
  let s = '';
  for (let i = 0; i < w; i++, x = Math.floor(x / 62)) s = B62[x % 62] + s;
  return s;
};

let bytes = 0;
let messages = 0;
let batch = [];
let batchLen = 0;
function put(s) {
  batch.push(s);
  batchLen += s.length;
  bytes += s.length;
  if (batchLen >= 65536) flush();
}
function flush() {
  const b = Buffer.from(batch.join(''), 'latin1');
  for (let off = 0; off < b.length; ) {
    try {
      off += fs.writeSync(1, b, off);
    } catch (err) {
      if (err.code === 'EAGAIN') continue;
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    }
  }
  batch = [];
  batchLen = 0;
}
const read = (f) => fs.readFileSync(path.join(fixtures, f), 'latin1');

if (kind === 'postfix') {
  const lines = read('postfix/listing/postqueue-j.txt').split('\n').filter(Boolean);
  while (bytes < limit)
    for (const l of lines) {
      put(`${l.replace(/"queue_id": "[^"]*"/, `"queue_id": "${messages.toString(16).toUpperCase().padStart(11, '0')}"`)}\n`);
      messages++;
    }
} else if (kind === 'exim') {
  const entries = read('exim/listing/exim-bp.txt').split('\n\n').filter((e) => e.trim());
  while (bytes < limit)
    for (const e of entries) put(`${e.replace(/ [0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2} /, ` 1xVRxS-${b62(messages++, 6)}-2F `)}\n\n`);
} else if (kind === 'sendmail') {
  const text = read('sendmail/listing/mailq.txt');
  const at = text.indexOf('MTA Queue status');
  const msp = text.slice(0, at);
  const mta = text.slice(at).split('\n');
  put(msp + mta.slice(0, 3).join('\n') + '\n');
  messages += (msp.match(/^\S+ +\d+ [A-Z][a-z]{2} /gm) ?? []).length;
  const entries = mta.slice(3).filter((l) => l !== '' && !l.includes('Total requests'));
  while (bytes < limit)
    for (const l of entries) {
      if (/^\S/.test(l)) put(`${l.replace(/^\S+/, `6ANB${b62(messages++, 10)}`)}\n`);
      else put(`${l}\n`);
    }
  put(`\t\tTotal requests: ${messages}\n`);
} else {
  throw new Error(`unknown listing kind ${kind}`);
}
flush();
if (countFile) fs.writeFileSync(countFile, String(messages));
