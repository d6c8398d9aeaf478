// A strict reader for the YAML subset sensu-assets/ is written in (no dependency: the suite has
// no YAML library and sensuctl is not here). Anything outside the subset is an error naming the
// line, so the files stay in it:
//   documents split by `---`; comments (`# ...`, also after plain values)
//   block mappings `key: value`, block sequences `- value` / `- key: value`
//   plain scalars (numbers, true/false, null as YAML 1.2's core schema), 'single' and "double" quoted
//   flow sequences of scalars `[a, "b"]`, empty `[]` and `{}`
//   block scalars `>`, `>-`, `|`, `|-`
// Not supported (errors): tabs for indentation, anchors/aliases, tags, multi-line plain or quoted
// scalars, flow mappings with content, complex keys, duplicate keys.
// When python3 has PyYAML, tests also compare this reader's result with yaml.safe_load_all.

export type YamlValue = string | number | boolean | null | YamlValue[] | { [k: string]: YamlValue };

interface Line {
  no: number; // 1-based
  indent: number;
  text: string; // without indentation
}

class YamlError extends Error {}

function fail(file: string, no: number, msg: string): never {
  throw new YamlError(`${file}:${no}: ${msg}`);
}

/** Strip a trailing ` # comment` outside quotes. */
function stripComment(s: string): string {
  let q: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === q) {
        if (q === "'" && s[i + 1] === "'") i++;
        else q = undefined;
      } else if (q === '"' && c === '\\') i++;
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s[,]/.test(s[i - 1])) q = c;
    } else if (c === '#' && (i === 0 || /\s/.test(s[i - 1]))) return s.slice(0, i).trimEnd();
  }
  return s.trimEnd();
}

function plain(s: string): YamlValue {
  if (/^(null|Null|NULL|~)$/.test(s)) return null;
  if (/^(true|True|TRUE)$/.test(s)) return true;
  if (/^(false|False|FALSE)$/.test(s)) return false;
  if (/^[-+]?(0|[1-9][0-9]*)$/.test(s)) return Number(s);
  if (/^[-+]?([0-9]*\.[0-9]+|[0-9]+\.[0-9]*)([eE][-+]?[0-9]+)?$/.test(s)) return Number(s);
  return s;
}

const DQ_ESCAPES: Record<string, string> = { n: '\n', t: '\t', '"': '"', '\\': '\\', '/': '/', r: '\r', '0': '\0', ' ': ' ' };

function quoted(s: string, file: string, no: number): { value: string; rest: string } {
  const q = s[0];
  let out = '';
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (q === "'" && c === "'") {
      if (s[i + 1] === "'") {
        out += "'";
        i++;
        continue;
      }
      return { value: out, rest: s.slice(i + 1) };
    }
    if (q === '"' && c === '"') return { value: out, rest: s.slice(i + 1) };
    if (q === '"' && c === '\\') {
      const e = s[++i];
      if (!(e in DQ_ESCAPES)) fail(file, no, `unsupported escape \\${e} in a double-quoted scalar`);
      out += DQ_ESCAPES[e];
      continue;
    }
    out += c;
  }
  return fail(file, no, 'unterminated quoted scalar (multi-line quoted scalars are outside the subset)');
}

function flowItems(body: string, file: string, no: number): YamlValue[] {
  const items: YamlValue[] = [];
  let s = body.trim();
  if (s === '') return items;
  while (true) {
    s = s.trimStart();
    let v: YamlValue;
    if (s[0] === '"' || s[0] === "'") {
      const r = quoted(s, file, no);
      v = r.value;
      s = r.rest.trimStart();
    } else {
      const m = /^[^,[\]{}]*/.exec(s)![0];
      if (/[:#&*!|>]/.test(m[0] ?? '') || m.includes(': ')) fail(file, no, `unsupported flow item '${m}'`);
      v = plain(m.trim());
      s = s.slice(m.length).trimStart();
    }
    items.push(v);
    if (s === '') return items;
    if (s[0] !== ',') fail(file, no, `expected ',' in flow sequence at '${s}'`);
    s = s.slice(1);
  }
}

function inlineScalar(raw: string, file: string, no: number): YamlValue {
  const s = raw.trim();
  if (s === '') return null;
  if (s[0] === '"' || s[0] === "'") {
    const r = quoted(s, file, no);
    const rest = stripComment(r.rest).trim();
    if (rest !== '') fail(file, no, `text after a quoted scalar: '${rest}'`);
    return r.value;
  }
  const t = stripComment(s);
  if (t === '[]') return [];
  if (t === '{}') return {};
  if (t[0] === '[') {
    if (!t.endsWith(']')) fail(file, no, 'flow sequences must close on the same line');
    return flowItems(t.slice(1, -1), file, no);
  }
  if (/^[{&*!%@`]/.test(t)) fail(file, no, `unsupported value '${t}' (flow mapping, anchor, alias, tag or reserved indicator)`);
  if (/^[|>]/.test(t)) fail(file, no, 'block scalar indicator in an unexpected place');
  if (/: |:$/.test(t)) fail(file, no, `plain scalar contains ': ' ('${t}'): quote it`);
  return plain(t);
}

export function parseYamlDocuments(text: string, file = '<yaml>'): YamlValue[] {
  const raw = text.split(/\r?\n/);
  const docs: YamlValue[] = [];
  let start = 0;
  const flush = (end: number) => {
    const v = parseDocument(raw, start, end, file);
    if (v !== undefined) docs.push(v);
  };
  for (let i = 0; i < raw.length; i++) {
    if (/^---\s*(#.*)?$/.test(raw[i])) {
      flush(i);
      start = i + 1;
    } else if (/^\.\.\.\s*$/.test(raw[i])) fail(file, i + 1, "document end marker '...' is outside the subset");
  }
  flush(raw.length);
  return docs;
}

function parseDocument(raw: string[], from: number, to: number, file: string): YamlValue | undefined {
  const lines: (Line | undefined)[] = [];
  for (let i = from; i < to; i++) {
    const r = raw[i];
    if (/^\s*\t/.test(r)) fail(file, i + 1, 'tab in indentation');
    const indent = /^ */.exec(r)![0].length;
    lines.push({ no: i + 1, indent, text: r.slice(indent) });
  }
  const significant = (l: Line | undefined) => l !== undefined && l.text !== '' && !l.text.startsWith('#');
  let pos = 0;
  const peek = (): Line | undefined => {
    while (pos < lines.length && !significant(lines[pos])) pos++;
    return lines[pos];
  };
  const blockScalar = (indicator: string, parentIndent: number, no: number): string => {
    const m = /^([|>])([-+]?)$/.exec(indicator);
    if (!m) fail(file, no, `unsupported block scalar header '${indicator}'`);
    const body: string[] = [];
    let ind = -1;
    pos++;
    while (pos < lines.length) {
      const l = lines[pos]!;
      if (l.text === '') {
        body.push('');
        pos++;
        continue;
      }
      if (l.indent <= parentIndent) break;
      if (ind < 0) ind = l.indent;
      if (l.indent < ind) fail(file, l.no, 'block scalar line less indented than its first line');
      body.push(' '.repeat(l.indent - ind) + l.text);
      pos++;
    }
    while (body.length && body[body.length - 1] === '') body.pop();
    let out: string;
    if (m[1] === '|') out = body.join('\n');
    else {
      // Folding: lines joined by a space; blank lines and more-indented lines keep their newlines.
      out = '';
      for (let i = 0; i < body.length; i++) {
        const cur = body[i];
        if (i === 0) out = cur;
        else if (cur === '' || body[i - 1] === '' || /^\s/.test(cur) || /^\s/.test(body[i - 1])) out += '\n' + cur;
        else out += ' ' + cur;
      }
    }
    if (m[2] === '+') fail(file, no, "keep chomping '+' is outside the subset");
    return m[2] === '-' ? out : out + '\n';
  };

  const parseBlock = (indent: number): YamlValue => {
    const l = peek()!;
    if (l.indent !== indent) fail(file, l.no, `bad indentation (expected ${indent}, got ${l.indent})`);
    return l.text === '-' || l.text.startsWith('- ') ? parseSequence(indent) : parseMapping(indent);
  };

  const valueAfter = (rest: string, indent: number, no: number, allowSameIndentSeq: boolean): YamlValue => {
    const r = stripComment(rest).trim();
    if (/^[|>][-+]?$/.test(r)) return blockScalar(r, indent, no);
    if (r !== '') {
      pos++;
      return inlineScalar(rest, file, no);
    }
    pos++;
    const n = peek();
    if (n && n.indent > indent) return parseBlock(n.indent);
    if (n && allowSameIndentSeq && n.indent === indent && (n.text === '-' || n.text.startsWith('- '))) return parseSequence(indent);
    return null;
  };

  const parseMapping = (indent: number): { [k: string]: YamlValue } => {
    const out: { [k: string]: YamlValue } = {};
    while (true) {
      const l = peek();
      if (!l || l.indent < indent) return out;
      if (l.indent > indent) fail(file, l.no, 'unexpected indentation');
      if (l.text === '-' || l.text.startsWith('- ')) return out; // a sequence at the parent's key indent
      let key: string;
      let rest: string;
      if (l.text[0] === '"' || l.text[0] === "'") {
        const q = quoted(l.text, file, l.no);
        if (!q.rest.startsWith(':')) fail(file, l.no, 'expected ":" after a quoted key');
        key = q.value;
        rest = q.rest.slice(1);
      } else {
        const m = /^([^\s:#][^:#]*?)\s*:(?:\s+(.*)|$)/.exec(l.text);
        if (!m) fail(file, l.no, `expected 'key: value', got '${l.text}'`);
        key = m[1];
        rest = m[2] ?? '';
      }
      if (/^[?&*!|>[\]{}]/.test(key)) fail(file, l.no, `unsupported key '${key}'`);
      if (Object.prototype.hasOwnProperty.call(out, key)) fail(file, l.no, `duplicate key '${key}'`);
      out[key] = valueAfter(rest, indent, l.no, true);
    }
  };

  const parseSequence = (indent: number): YamlValue[] => {
    const out: YamlValue[] = [];
    while (true) {
      const l = peek();
      if (!l || l.indent < indent) return out;
      if (l.indent > indent) fail(file, l.no, 'unexpected indentation in a sequence');
      if (!(l.text === '-' || l.text.startsWith('- '))) return out;
      const content = l.text === '-' ? '' : l.text.slice(2);
      const lead = content.length - content.trimStart().length;
      const c = content.trimStart();
      if (c === '' || c.startsWith('#')) {
        out.push(valueAfter('', indent, l.no, false));
        continue;
      }
      // "- key: value": a mapping whose keys sit at the column after "- ".
      const isMap = !/^["'[{]/.test(c) && /^[^\s:#][^:#]*?\s*:(\s|$)/.test(c);
      if (isMap) {
        lines[pos] = { no: l.no, indent: indent + 2 + lead, text: c };
        out.push(parseMapping(indent + 2 + lead));
      } else out.push(valueAfter(c, indent, l.no, false));
    }
  };

  if (!peek()) return undefined;
  const first = peek()!;
  const v = parseBlock(first.indent);
  const extra = peek();
  if (extra) fail(file, extra.no, `unexpected content '${extra.text}'`);
  return v;
}
