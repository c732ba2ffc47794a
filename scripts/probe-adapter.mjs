// Exit 0 and print the adapter when Dawn (npm `webgpu`) finds one; exit 1 otherwise. Used by setup.sh.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) process.exit(1);
const info = adapter.info ?? {};
console.log(`setup: WebGPU adapter: ${info.vendor} / ${info.architecture} / ${info.device}`);
process.exit(0);
