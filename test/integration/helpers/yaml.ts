// The YAML in sensu-assets/, read with the `yaml` package (YAML 1.2, core schema: what sensuctl's Go
// reader gives for these files). Strict: duplicate keys, tabs for indentation, unterminated quotes
// and the like are errors naming the file and line; empty documents (a `---` with only comments
// after it) are left out, as sensuctl leaves them out.
// When python3 has PyYAML, tests also compare this reader's result with yaml.safe_load_all.
import { LineCounter, parseAllDocuments } from 'yaml';

export type YamlValue = string | number | boolean | null | YamlValue[] | { [k: string]: YamlValue };

export function parseYamlDocuments(text: string, file = '<yaml>'): YamlValue[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, strict: true, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [];
  const out: YamlValue[] = [];
  for (const doc of list) {
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) {
      const line = problem.linePos?.[0]?.line ?? lineCounter.linePos(problem.pos[0]).line;
      throw new Error(`${file}:${line}: ${problem.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
    }
    if (doc.contents === null) continue;
    try {
      // No aliases: the Sensu resources have none, and an alias to nothing would be a ReferenceError.
      out.push(doc.toJS({ maxAliasCount: 0 }) as YamlValue);
    } catch (e) {
      throw new Error(`${file}:${lineCounter.linePos(doc.range[0]).line}: ${(e as Error).message}`);
    }
  }
  return out;
}
