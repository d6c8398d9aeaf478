// Loaded with `node --import <this file>` to run a real, built check at a chosen time: the clock
// starts at $FAKE_NOW_MS (epoch ms) and then runs at the real pace. Tests use it for what only time
// can make (a queue growing over minutes, a log's rate over a known interval) without waiting.
const base = Number(process.env.FAKE_NOW_MS);
if (Number.isFinite(base) && base > 0) {
  const RealDate = globalThis.Date;
  const t0 = RealDate.now();
  const now = () => base + (RealDate.now() - t0);
  class FakeDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(now());
      else super(...args);
    }
    static now() {
      return now();
    }
  }
  globalThis.Date = FakeDate;
}
