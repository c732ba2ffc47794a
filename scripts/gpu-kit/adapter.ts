// The GPU kit's first stage: the adapter init() takes and what the tuning tables read from it,
// printed as one JSON line (the kit's results.json keeps it).
import { init, release } from '../../src/engine/device.js';

const { adapter, hasTimestamps, subgroupMinSize, limits } = await init();
console.log(
  JSON.stringify({
    ...adapter,
    hasTimestamps,
    subgroupMinSize,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
  }),
);
release();
process.exit(0);
