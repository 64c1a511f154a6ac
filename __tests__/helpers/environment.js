// The test environment of every Jest project: Node's, plus one fix for a handle no test can close.
//
// redis-parser (ioredis' protocol parser) grows a module-wide buffer pool for a large reply
// (the store contract reads a 2 MiB value) and then shrinks it on a 50 ms setInterval for about
// two seconds. That interval is ref'd, so a Jest worker whose last file read a large value could
// not exit ("A worker process has failed to exit gracefully and has been force exited"): found
// with async_hooks, tracking the Timeouts still alive after each file's teardown. Unref'ing it
// changes nothing else: it is housekeeping, and it still runs while anything else keeps the
// process alive.
const { TestEnvironment } = require('jest-environment-node');

class CacheKitTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    const setInterval = this.global.setInterval;
    this.global.setInterval = function setIntervalUnrefPoolShrink(callback, ...rest) {
      const timer = setInterval(callback, ...rest);
      if (typeof callback === 'function' && callback.name === 'decreaseBufferPool') timer.unref();
      return timer;
    };
  }
}

module.exports = CacheKitTestEnvironment;
