#!/usr/bin/env node
import { depthCheck } from '../lib/checks/mailq-depth.js';
import { main } from '../lib/plugin/check.js';

main(depthCheck);
