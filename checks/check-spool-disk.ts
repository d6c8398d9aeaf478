#!/usr/bin/env node
import { spoolDiskCheck } from '../lib/checks/spool-disk.js';
import { main } from '../lib/plugin/check.js';

main(spoolDiskCheck);
