// vitest setupFile: each test file gets a state dir of its own inside the run's (vitest.config.ts).
// Test files run in parallel; checks in one file run with a frozen clock, in another with the real
// one. Sharing one dir, their envelope-cache locks met: a frozen-clock run saw a real-clock lock as
// live ("envelope cache read but not saved"), a real-clock run took a frozen-clock lock over as
// "past its deadline", and a file's answer depended on what another file was doing at that moment.
import fs from 'node:fs';
import path from 'node:path';

const suite = process.env.MAILQ_CHECKS_STATE_DIR;
if (suite) process.env.MAILQ_CHECKS_STATE_DIR = fs.mkdtempSync(path.join(suite, 'file-'));
