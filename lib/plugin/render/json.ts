// One JSON object per run: for tests and for tools that want data, not text. Every string in it is
// cleaned and capped as the Nagios text is (lib/plugin/text.ts outputText).

import { STATE_NAMES, type CheckResult } from '../result.js';
import { outputReplacer } from '../text.js';

export function renderJson(r: CheckResult): string {
  return (
    JSON.stringify({
      check: r.check,
      service: r.service,
      status: STATE_NAMES[r.state],
      code: r.state,
      summary: r.summary,
      time: Math.floor(r.time),
      metrics: r.metrics.map((m) => ({
        label: m.label,
        value: m.value,
        uom: m.uom ?? '',
        warn: m.warn?.text ?? null,
        crit: m.crit?.text ?? null,
        min: m.min ?? null,
        max: m.max ?? null,
      })),
      details: r.details,
      ...r.facts,
    }, outputReplacer) + '\n'
  );
}
