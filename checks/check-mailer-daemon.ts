#!/usr/bin/env node
import { mailerDaemonCheck } from '../lib/checks/mailer-daemon.js';
import { main } from '../lib/plugin/check.js';

main(mailerDaemonCheck);
