// Build-time stand-in for the `string-width` package in the shipped checks (see build.mjs): the real
// one builds an Intl.Segmenter and Unicode-property regexes when it is imported, ~80 ms of CPU at
// every start of every check, for yargs' help layout, which the checks never do at run time (--help
// is rendered at build time with the real package and baked in). Columns as a terminal counts them:
// escape sequences and combining or zero-width marks take none, East Asian wide and emoji two.
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;

function wide(c) {
  return (
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0xa4cf && c !== 0x303f) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1f64f) ||
    (c >= 0x1f900 && c <= 0x1faff) ||
    (c >= 0x20000 && c <= 0x3fffd)
  );
}

function zero(c) {
  return (
    c < 0x20 ||
    (c >= 0x7f && c < 0xa0) ||
    (c >= 0x300 && c <= 0x36f) ||
    (c >= 0x200b && c <= 0x200f) ||
    (c >= 0xfe00 && c <= 0xfe0f) ||
    c === 0xfeff
  );
}

export default function stringWidth(string) {
  if (typeof string !== 'string' || string.length === 0) return 0;
  let width = 0;
  for (const ch of string.replace(ANSI, '')) {
    const c = ch.codePointAt(0);
    if (!zero(c)) width += wide(c) ? 2 : 1;
  }
  return width;
}
