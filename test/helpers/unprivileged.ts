// vitest setupFile: checks run in-process by the tests behave as an unprivileged user would, although
// the build machines run the suite as root. Without this, every in-process test that plants a fake
// listing program on PATH or reads a recorded --listing-file would get the root answer (programs only
// from the system directories, --listing-file refused). The root behaviour itself is tested on the
// built binaries, run as root, and in-process with setPrivilegeProbe(() => true) (test/hostile/security.test.ts).
// See lib/plugin/privilege.ts for why this cannot be done through the environment or argv.
import { setPrivilegeProbe } from '../../lib/plugin/privilege.js';

setPrivilegeProbe(() => false);
