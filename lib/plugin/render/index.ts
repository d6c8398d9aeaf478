// Output formats: adding one is a file in this folder plus a row here.

import type { CheckResult } from '../result.js';
import { renderGraphite } from './graphite.js';
import { renderJson } from './json.js';
import { renderNagios } from './nagios.js';

export interface RenderOptions {
  scheme: string;
}

export type Renderer = (r: CheckResult, o: RenderOptions) => string;

export const RENDERERS: Record<'nagios' | 'graphite' | 'json', Renderer> = {
  nagios: (r) => renderNagios(r),
  graphite: (r, o) => renderGraphite(r, o.scheme),
  json: (r) => renderJson(r),
};

export type Format = keyof typeof RENDERERS;
export const FORMATS = Object.keys(RENDERERS) as Format[];
