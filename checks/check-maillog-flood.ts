#!/usr/bin/env node
import { floodCheck } from '../lib/checks/maillog-flood.js';
import { main } from '../lib/plugin/check.js';

main(floodCheck);
