#!/usr/bin/env node
import { growthCheck } from '../lib/checks/mailq-growth.js';
import { main } from '../lib/plugin/check.js';

main(growthCheck);
