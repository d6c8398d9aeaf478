// Exim driver: -H parsing on buffers built from the spec's "Format of spool files" chapter and
// spool_in.c, walking constructed flat and split spools, the exim -bp parser, and, when present,
// the real spools and listings captured from Debian's exim4 in test/fixtures/mta/exim{,-split}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  exim,
  eximHeaderFileId,
  eximMessageSize,
  formatEximSize,
  isEximId,
  parseEximBp,
  parseEximBpc,
  parseEximHeaderFile,
  parseEximSize,
  readEximMessage,
  stripEximRecipientExtras,
} from '../../lib/mta/exim.js';
import type { QueueEntry, QueuedMessage, SpoolScanContext } from '../../lib/mta/types.js';

const latin1 = (s: string) => Buffer.from(s, 'latin1');

interface HOpts {
  id?: string;
  sender?: string;
  vars?: string[];
  tree?: string[];
  rcpts?: string[];
  headers?: [string, string][];
}

// An -H file as spool_out.c writes it.
function hfile(o: HOpts = {}): string {
  const id = o.id ?? '1xVK3h-0005LL-1a';
  const headers = o.headers ?? [
    ['P', 'Received: from [127.0.0.1] (helo=mx1.lab.example)\n\tby mx1.lab.example with esmtp (Exim 4.96)\n\tid 1xVK3h-0005LL-1a\n\tfor bob@victim.example;\n\tMon, 23 Nov 2026 10:55:59 +0000\n'],
    ['F', 'From: Alice <alice@lab.example>\n'],
    ['T', 'To: bob@victim.example\n'],
    ['*', 'X-Rewritten: old\n'],
    [' ', 'Subject: caf\xe9\n'],
  ];
  const rcpts = o.rcpts ?? ['bob@victim.example'];
  return [
    `${id}-H`,
    'Debian-exim 101 101',
    `<${o.sender ?? 'alice@lab.example'}>`,
    '1763895359 0',
    ...(o.vars ?? ['-received_protocol esmtp', '-host_address 127.0.0.1.41242', '-body_linecount 3', '-max_received_linelength 60']),
    ...(o.tree ?? ['XX']),
    String(rcpts.length),
    ...rcpts,
    '',
    headers.map(([flag, text]) => `${String(text.length).padStart(3, '0')}${flag} ${text}`).join(''),
  ].join('\n');
}

describe('parseEximHeaderFile', () => {
  it('reads the envelope, client and live header bytes', () => {
    const r = parseEximHeaderFile(latin1(hfile()));
    expect(r).toMatchObject({
      id: '1xVK3h-0005LL-1a',
      sender: 'alice@lab.example',
      arrival: 1763895359,
      warnings: 0,
      frozen: false,
      client: '127.0.0.1',
      bodyLinecount: 3,
      recipients: ['bob@victim.example'],
      delivered: 0,
      envelopeComplete: true,
      malformed: false,
    });
    // The spec: a header's number counts its characters including embedded and final newlines;
    // '*' headers are not transmitted and not counted.
    const live = ['Received: from [127.0.0.1] (helo=mx1.lab.example)\n\tby mx1.lab.example with esmtp (Exim 4.96)\n\tid 1xVK3h-0005LL-1a\n\tfor bob@victim.example;\n\tMon, 23 Nov 2026 10:55:59 +0000\n', 'From: Alice <alice@lab.example>\n', 'To: bob@victim.example\n', 'Subject: caf\xe9\n'];
    expect(r.headerBytes).toBe(live.reduce((n, h) => n + h.length, 0));
  });

  it('frozen, null sender, IPv6 client', () => {
    const r = parseEximHeaderFile(latin1(hfile({ sender: '', vars: ['-frozen 1763895420', '-localerror', '-host_address ::1.57259'] })));
    expect(r).toMatchObject({ frozen: true, frozenAt: 1763895420, localError: true, sender: '', client: '::1' });
  });

  it('leaves out recipients in the non-recipients tree (the spec three-node example)', () => {
    const r = parseEximHeaderFile(
      latin1(
        hfile({
          tree: ['YY darcy@austen.fict.example', 'NN alice@wonderland.fict.example', 'NN editor@thesaurus.ref.example'],
          rcpts: ['editor@thesaurus.ref.example', 'darcy@austen.fict.example', 'rdo@foundation', 'alice@wonderland.fict.example'],
        }),
      ),
    );
    expect(r.recipients).toEqual(['rdo@foundation']);
    expect(r.delivered).toBe(3);
  });

  it('skips ACL variables whose values span lines, and tainted/quoted variable lines', () => {
    const value = 'line one\n-frozen 1\nXX\n3';
    const r = parseEximHeaderFile(
      latin1(hfile({ vars: [`-aclc _spamscore ${value.length}`, value, '--auth_id alice', '--(pgsql)helo_name mx', '-acl 11 2', 'ab', '-body_linecount 9'] })),
    );
    expect(r.frozen).toBe(false);
    expect(r.bodyLinecount).toBe(9);
    expect(r.recipients).toEqual(['bob@victim.example']);
    expect(r.malformed).toBe(false);
  });

  it('strips one_time / errors_to / DSN extras from recipient lines', () => {
    const r = parseEximHeaderFile(latin1(hfile({ rcpts: ['bob@victim.example  0,0  0,-1#3', 'carol@victim.example rfc822;carol@victim.example 27,6 owner@lab.example 17,0#3'] })));
    expect(r.recipients).toEqual(['bob@victim.example', 'carol@victim.example']);
  });

  it.each([
    ['bob@victim.example', 'bob@victim.example'],
    ['user@host1', 'user@host1'],
    ['bob@victim.example 1', 'bob@victim.example'], // early Exim 4: parent number
    ['bob@victim.example 0,1,2', 'bob@victim.example'], // Exim 3
    ['bob@victim.example owner@lab.example 17,0#1', 'bob@victim.example'],
    ['bob@victim.example  0,-1#1', 'bob@victim.example'],
    ['bob@victim.example  0,0  0,-1#3', 'bob@victim.example'],
    ['odd name@victim.example rfc822;x 8,1  0,2#3', 'odd name@victim.example'],
  ])('recipient line %j -> %j', (line, want) => {
    expect(stripEximRecipientExtras(line)).toBe(want);
  });

  it.each([
    ['not an -H file', 'hello\nworld\n'],
    ['bad id', hfile().replace('1xVK3h-0005LL-1a-H', 'xx-H')],
    ['sender without brackets', hfile().replace('<alice@lab.example>', 'alice@lab.example')],
    ['no time line', hfile().replace('1763895359 0', 'yesterday')],
    ['bad recipient count', hfile().replace(/\n1\nbob/, '\nmany\nbob')],
    ['missing blank line', hfile().replace('bob@victim.example\n\n', 'bob@victim.example\nX\n')],
    ['bad header length', hfile().replace(/\n\n\d+P /, '\n\nzzzP ')],
  ])('flags a malformed file (%s) without throwing', (_what, text) => {
    const r = parseEximHeaderFile(latin1(text));
    expect(r.malformed).toBe(true);
  });

  it('never throws on random bytes', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let n = 0; n < 200; n++) {
      const buf = Buffer.alloc(1 + (n % 131));
      for (let i = 0; i < buf.length; i++) buf[i] = rnd();
      expect(() => parseEximHeaderFile(buf)).not.toThrow();
    }
  });

  it('reads what it can from a cut read and says the envelope is incomplete', () => {
    const text = hfile({ rcpts: Array.from({ length: 50 }, (_, i) => `u${i}@victim.example`) });
    const buf = latin1(text);
    const cut = text.indexOf('u20@');
    const r = parseEximHeaderFile(buf, cut + 3, false);
    expect(r.envelopeComplete).toBe(false);
    expect(r.recipients).toHaveLength(20);
    expect(r.headerBytes).toBeUndefined();
  });

  it('knows both id formats', () => {
    expect(isEximId('1xVK3h-0005LL-1a')).toBe(true);
    expect(isEximId('1rPnCl-000000001ZC-1b3x')).toBe(true);
    expect(isEximId('1xVK3h-0005LL-1')).toBe(false);
    expect(eximHeaderFileId('1xVK3h-0005LL-1a-H')).toBe('1xVK3h-0005LL-1a');
    expect(eximHeaderFileId('1rPnCl-000000001ZC-1b3x-H')).toBe('1rPnCl-000000001ZC-1b3x');
    for (const other of ['1xVK3h-0005LL-1a-D', '1xVK3h-0005LL-1a-J', '1xVK3h-0005LL-1a-T', 'hdr.12345', '1xVK3h-0005LL-1a-H.swp'])
      expect(eximHeaderFileId(other)).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Constructed spools.

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mailq-exim-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

function write(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
}

function ctx(signal: AbortSignal = new AbortController().signal): SpoolScanContext {
  return { signal };
}

async function collect(spool: string, c: SpoolScanContext = ctx()): Promise<QueueEntry[]> {
  const out: QueueEntry[] = [];
  for await (const e of exim.listEntries(spool, c)) out.push(e);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function putMessage(input: string, id: string, o: HOpts = {}, body = 'hello\n'): void {
  write(path.join(input, `${id}-H`), latin1(hfile({ ...o, id })));
  write(path.join(input, `${id}-D`), `${id}-D\n${body}`);
}

describe('listEntries / readMessage on constructed spools', () => {
  let flat: string;
  let split: string;
  beforeAll(() => {
    flat = path.join(tmp, 'exim4');
    putMessage(path.join(flat, 'input'), '1xVK3h-0005LL-1a');
    putMessage(path.join(flat, 'input'), '1xVK3i-0005LM-2b', { vars: ['-frozen 1763895420'], sender: '' });
    write(path.join(flat, 'input', '1xVK3i-0005LM-2b-J'), 'bob@victim.example\n');
    write(path.join(flat, 'input', '1xVK3j-0005LN-3c-T'), 'temp');
    write(path.join(flat, 'input', 'hdr.12345'), 'temp');
    fs.mkdirSync(path.join(flat, 'msglog'), { recursive: true });
    write(path.join(flat, 'db', 'retry'), '');
    split = path.join(tmp, 'exim-split');
    // split_spool_directory: input/<6th character of the id>/
    putMessage(path.join(split, 'input', 'h'), '1xVK3h-0005LL-1a');
    putMessage(path.join(split, 'input', 'Z'), '1xVK3Z-0005LO-4d');
    putMessage(path.join(split, 'input'), '1xVK30-0005LP-5e'); // left over from before the switch
  });

  it('yields one entry per -H file, queue input', async () => {
    const got = await collect(flat);
    expect(got.map((e) => [e.id, e.queue, path.relative(flat, e.path)])).toEqual([
      ['1xVK3h-0005LL-1a', 'input', path.join('input', '1xVK3h-0005LL-1a-H')],
      ['1xVK3i-0005LM-2b', 'input', path.join('input', '1xVK3i-0005LM-2b-H')],
    ]);
  });

  it('walks split spool subdirectories', async () => {
    const got = await collect(split);
    expect(got.map((e) => path.relative(split, e.path))).toEqual([
      path.join('input', '1xVK30-0005LP-5e-H'),
      path.join('input', 'Z', '1xVK3Z-0005LO-4d-H'),
      path.join('input', 'h', '1xVK3h-0005LL-1a-H'),
    ]);
    // also when given the input directory itself
    expect(await collect(path.join(split, 'input'))).toHaveLength(3);
  });

  it('reads a message: size as exim -bp counts it', () => {
    const id = '1xVK3h-0005LL-1a';
    const m = exim.readMessage({ id, queue: 'input', path: path.join(flat, 'input', `${id}-H`) });
    expect(m).toEqual({
      id,
      queue: 'input',
      arrival: 1763895359,
      sender: 'alice@lab.example',
      recipients: ['bob@victim.example'],
      client: '127.0.0.1',
      // Known without the parser: the live headers as the -H file numbers them (172P Received, 32F From,
      // 23T To, 014 Subject; the deleted 017* X-Rewritten is not sent), the body "hello\n" (6) and the
      // blank line between them (1): 248, as exim -bp counts it.
      size: 172 + 32 + 23 + 14 + 6 + 1,
    });
    expect(eximMessageSize(undefined, id, 10)).toBeUndefined();
  });

  it('moves a frozen message to the frozen queue', () => {
    const id = '1xVK3i-0005LM-2b';
    const m = exim.readMessage({ id, queue: 'input', path: path.join(flat, 'input', `${id}-H`) });
    expect(m).toMatchObject({ queue: 'frozen', sender: '', flags: ['frozen'] });
  });

  it('returns null for a vanished file, flags garbage and a wrong id line', () => {
    expect(exim.readMessage({ id: '1xVK3k-0005LQ-6f', queue: 'input', path: path.join(flat, 'input', '1xVK3k-0005LQ-6f-H') })).toBeNull();
    const g = path.join(tmp, 'garbage', 'input', '1xVK3k-0005LQ-6f-H');
    write(g, Buffer.from([0xff, 0x00, 0x81, 0x0a, 0x0a]));
    expect(exim.readMessage({ id: '1xVK3k-0005LQ-6f', queue: 'input', path: g })?.flags).toEqual(['unreadable']);
    const w = path.join(tmp, 'garbage', 'input', '1xVK3l-0005LR-7g-H');
    write(w, latin1(hfile({ id: '1xVK3h-0005LL-1a' })));
    expect(exim.readMessage({ id: '1xVK3l-0005LR-7g', queue: 'input', path: w })?.flags).toEqual(['unreadable']);
    const short = path.join(tmp, 'garbage', 'input', '1xVK3m-0005LS-8h-H');
    write(short, hfile({ id: '1xVK3m-0005LS-8h' }).split('\nXX\n')[0] + '\n');
    expect(exim.readMessage({ id: '1xVK3m-0005LS-8h', queue: 'input', path: short })).toMatchObject({
      sender: 'alice@lab.example',
      flags: ['unreadable'],
    });
  });

  it('caps the read: a big recipient list is cut and flagged truncated', () => {
    const id = '1xVK3n-0005LT-9i';
    const rcpts = Array.from({ length: 5000 }, (_, i) => `user${i}@victim.example`);
    putMessage(path.join(tmp, 'big', 'input'), id, { rcpts });
    const entry = { id, queue: 'input', path: path.join(tmp, 'big', 'input', `${id}-H`) };
    expect(readEximMessage(entry)?.recipients).toHaveLength(5000);
    const cut = readEximMessage(entry, 4096);
    expect(cut?.flags).toEqual(['truncated']);
    expect(cut?.recipients.length).toBeGreaterThan(10);
    expect(cut?.recipients.length).toBeLessThan(5000);
    expect(cut?.recipients.every((r) => /^user\d+@victim\.example$/.test(r))).toBe(true);
  });

  it('throws EACCES on permission denied', () => {
    vi.spyOn(fs, 'openSync').mockImplementation(() => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    });
    const id = '1xVK3h-0005LL-1a';
    expect(() => exim.readMessage({ id, queue: 'input', path: path.join(flat, 'input', `${id}-H`) })).toThrow(
      expect.objectContaining({ code: 'EACCES' }),
    );
  });

  it('throws when the spool has no input directory', async () => {
    await expect(collect(path.join(tmp, 'nothing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stops when the signal is aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    expect(await collect(split, ctx(ac.signal))).toEqual([]);
    const ac2 = new AbortController();
    let n = 0;
    for await (const _e of exim.listEntries(split, ctx(ac2.signal))) {
      n++;
      ac2.abort();
    }
    expect(n).toBe(1);
  });

  it('resolves spools: explicit as given, else the first default that exists', async () => {
    expect(await exim.resolveSpools([flat])).toEqual([flat]);
    const first = exim.defaultSpools.find((s) => fs.existsSync(s)) ?? exim.defaultSpools[0];
    expect(await exim.resolveSpools()).toEqual([first]);
  });
});

// ---------------------------------------------------------------------------------------------
// exim -bp output.

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);

const BP = [
  '25m  2.9K 1xVK3h-0005LL-1a <alice@lab.example> *** frozen ***',
  '          D delivered@victim.example',
  '            bob@victim.example',
  '',
  ' 3h   731 1xVK4a-0005MQ-2b <> (Debian-exim)',
  '            postmaster@lab.example',
  '',
  ' 4d       1xVK4b-0005MR-3c <odd sender@lab.example>',
  '    *** spool format error: size=12 ***',
  '',
  '95m  123K 1rPnCl-000000001ZC-1b3x <bulk@news.example>',
  '            a@x.example',
  '            b@y.example',
  '           +D generated@victim.example',
  '',
].join('\n');

describe('parseEximBp', () => {
  it('parses entries, frozen marks, delivered recipients and errors', () => {
    const ms = parseEximBp(BP, { now: NOW });
    const now = NOW / 1000;
    expect(ms).toEqual([
      {
        id: '1xVK3h-0005LL-1a',
        queue: 'frozen',
        arrival: now - 25 * 60,
        // The made-up IDs' times do not match their ages: the age column, to its precision.
        arrivalPrecision: 60,
        sender: 'alice@lab.example',
        recipients: ['bob@victim.example'],
        size: Math.round(2.9 * 1024),
        flags: ['frozen'],
      },
      { id: '1xVK4a-0005MQ-2b', queue: 'input', arrival: now - 3 * 3600, arrivalPrecision: 3600, sender: '', recipients: ['postmaster@lab.example'], size: 731 },
      { id: '1xVK4b-0005MR-3c', queue: 'input', arrival: now - 4 * 86400, arrivalPrecision: 86400, sender: 'odd sender@lab.example', recipients: [], size: undefined, flags: ['unreadable'] },
      { id: '1rPnCl-000000001ZC-1b3x', queue: 'input', arrival: now - 95 * 60, arrivalPrecision: 60, sender: 'bulk@news.example', recipients: ['a@x.example', 'b@y.example'], size: 123 * 1024 },
    ]);
  });

  it('tags the messages of a named queue listing (exim -bp -qGx) with its name; frozen ones stay frozen', () => {
    const ms = exim.parseListing(BP, { file: 'exim', args: ['-bp', '-qGx'], label: 'x' });
    expect(ms.map((m) => m.queue)).toEqual(['frozen', 'x', 'x', 'x']);
  });

  it('reads exim -bpc', () => {
    expect(parseEximBpc('42\n')).toBe(42);
    expect(parseEximBpc('exim: permission denied\n')).toBeUndefined();
  });

  it.each([
    [0, ''],
    [731, '731'],
    [1023, '1023'],
    [1024, '1.0K'],
    [2970, '2.9K'], // 2.9004
    [2304, '2.2K'], // exactly 2.25: printf rounds half to even
    [2816, '2.8K'], // exactly 2.75 -> 2.8
    [10 * 1024, '10K'],
    [126_464, '124K'], // 123.5K rounds up as Exim adds 512 before dividing
    [1024 * 1024, '1.0M'],
    [50 * 1024 * 1024, '50M'],
  ])('formats size %i as %j', (n, want) => {
    expect(formatEximSize(n)).toBe(want);
    if (want) expect(Math.abs((parseEximSize(want) ?? 0) - n) / n).toBeLessThan(0.05);
  });
});

// ---------------------------------------------------------------------------------------------
// The real spools and listings captured from Debian 12's exim4 4.96: test/fixtures/mta/exim (flat
// input/) and exim-split (split_spool_directory: input/<6th char>/), each with `exim -bp`,
// `exim -bpc`, `exipick -zi` (frozen IDs) and manifest.json (what was submitted).

const FIXROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'mta');

interface Manifest {
  capturedAt: number;
  submitted: { from: string; to: string[]; queueHint: string }[];
  expected: { total: number; byQueue: Record<string, number>; nullSender: number; recipients: number };
}

function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return m;
}

function top(counts: Map<string, number>): [string, number] {
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
}

describe.each(['exim', 'exim-split'])('real spool %s vs its own listings', (name) => {
  const dir = path.join(FIXROOT, name);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const listing = (file: string) => fs.readFileSync(path.join(dir, 'listing', file), 'latin1');
  const bpText = listing('exim-bp.txt');
  let entries: QueueEntry[] = [];
  let spool: QueuedMessage[] = [];
  let listed: QueuedMessage[] = [];
  const byId = (ms: QueuedMessage[]) => new Map(ms.map((m) => [m.id, m]));

  beforeAll(async () => {
    const [root] = await exim.resolveSpools([path.join(dir, 'spool')]);
    entries = await collect(root);
    spool = entries.map((e) => exim.readMessage(e)).filter((m): m is QueuedMessage => m !== null);
    listed = exim.parseListing(bpText, { ...exim.listingCommands()[0] });
  });

  it('finds one message per -H file: the IDs exim -bp lists, as many as exim -bpc counts', () => {
    expect(spool).toHaveLength(entries.length);
    expect(spool.map((m) => m.id).sort()).toEqual(listed.map((m) => m.id).sort());
    expect(spool).toHaveLength(parseEximBpc(listing('exim-bpc.txt'))!);
    expect(spool).toHaveLength(manifest.expected.total);
  });

  it('puts frozen messages in the frozen queue: the ones exim -bp marks and exipick -zi lists', () => {
    const frozen = spool.filter((m) => m.queue === 'frozen').map((m) => m.id).sort();
    expect(frozen).toEqual(listed.filter((m) => m.queue === 'frozen').map((m) => m.id).sort());
    expect(frozen).toEqual(listing('exipick-zi.txt').split('\n').filter(Boolean).sort());
    expect(frozen).toHaveLength(manifest.expected.byQueue.frozen);
    // the walk alone cannot know: entries are all 'input'
    expect(new Set(entries.map((e) => e.queue))).toEqual(new Set(['input']));
    expect(Object.fromEntries(countBy(spool, (m) => m.queue))).toEqual(Object.fromEntries(countBy(listed, (m) => m.queue)));
  });

  it('reads the same sender and recipients (in order) as exim -bp', () => {
    const fromList = byId(listed);
    for (const m of spool) {
      const l = fromList.get(m.id)!;
      expect({ id: m.id, sender: m.sender, recipients: m.recipients }).toEqual({ id: l.id, sender: l.sender, recipients: l.recipients });
      expect(m.flags?.filter((f) => f !== 'frozen') ?? []).toEqual([]);
    }
  });

  it('computes the size exim -bp prints', () => {
    // the raw size column, not the parsed approximation
    const shown = new Map<string, string>();
    for (const line of bpText.split('\n')) {
      const m = /^\s*\d+[mhd] +(\S+) +(\S{16,23}) /.exec(line);
      if (m) shown.set(m[2], m[1]);
    }
    expect(shown.size).toBe(spool.length);
    for (const m of spool) expect([m.id, formatEximSize(m.size ?? 0)]).toEqual([m.id, shown.get(m.id)]);
  });

  it('has arrival times that agree with the ages exim -bp printed at capture time', () => {
    const l = byId(parseEximBp(bpText, { now: manifest.capturedAt * 1000 }));
    for (const m of spool) {
      expect(m.arrival, m.id).toBeLessThanOrEqual(manifest.capturedAt);
      // exim -bp truncates the age to whole minutes
      expect(Math.abs(m.arrival! - l.get(m.id)!.arrival!), m.id).toBeLessThan(60);
    }
  });

  it('counts null senders, recipients and the top sender as submitted', () => {
    expect(spool.filter((m) => m.sender === '')).toHaveLength(manifest.expected.nullSender);
    expect(listed.filter((m) => m.sender === '')).toHaveLength(manifest.expected.nullSender);
    expect(spool.reduce((n, m) => n + m.recipients.length, 0)).toBe(manifest.expected.recipients);
    const submitted = countBy(manifest.submitted, (s) => `${s.from}|${[...s.to].sort().join(',')}`);
    expect(countBy(spool, (m) => `${m.sender}|${[...m.recipients].sort().join(',')}`)).toEqual(submitted);
    const t = top(countBy(spool, (m) => m.sender ?? '?'));
    expect(t).toEqual(top(countBy(listed, (m) => m.sender ?? '?')));
    expect(t).toEqual(top(countBy(manifest.submitted, (s) => s.from)));
  });
});

describe('real split spool', () => {
  it('keeps its messages in input/<6th character of the id>/', async () => {
    const root = path.join(FIXROOT, 'exim-split', 'spool');
    const entries = await collect(root);
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(path.relative(path.join(root, 'input'), path.dirname(e.path))).toBe(e.id[5]);
  });
});
