// Output formats: adding one is a file in this folder plus a row here.

import type { CheckResult } from '../result.js';
import { renderGraphite } from './graphite.js';
import { renderInflux } from './influx.js';
import { renderJson } from './json.js';
import { renderNagios } from './nagios.js';
import { renderPrometheus } from './prometheus.js';

export interface RenderOptions {
  scheme: string;
  /** The host name (influx's host tag). */
  hostname?: string;
  /** --textfile-suffix: a label/tag that tells this run's series from another run of the same check. */
  suffix?: string;
}

export type Renderer = (r: CheckResult, o: RenderOptions) => string;

export const RENDERERS: Record<'nagios' | 'graphite' | 'json' | 'prometheus' | 'influx', Renderer> = {
  nagios: (r) => renderNagios(r),
  graphite: (r, o) => renderGraphite(r, o.scheme),
  json: (r) => renderJson(r),
  prometheus: (r, o) => renderPrometheus(r, o.suffix),
  influx: (r, o) => renderInflux(r, o.hostname, o.suffix),
};

export type Format = keyof typeof RENDERERS;
export const FORMATS = Object.keys(RENDERERS) as Format[];
