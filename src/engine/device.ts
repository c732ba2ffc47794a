/**
 * The one WebGPU device of the process: acquired once by `init()`, in Node through Dawn (npm `webgpu`)
 * or in a browser through `navigator.gpu`. GPU-side failures (validation errors, device loss) are
 * collected here and rethrown by the next flush or readback, with the label of the kernel involved.
 */

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/** Adapters that run compute on the CPU's cores (lavapipe, SwiftShader): there a load all lanes share
 *  costs as much as a gather and a barrier is expensive, which kernels choosing a variant weigh. */
export function cpuAdapter(adapter: AdapterDescription): boolean {
  return /llvmpipe|swiftshader|lavapipe/i.test(`${adapter.device} ${adapter.architecture} ${adapter.description}`);
}

export interface Gpu {
  device: GPUDevice;
  adapter: AdapterDescription;
  limits: GPUSupportedLimits;
  hasTimestamps: boolean;
  /** The fewest lanes a subgroup can have on this device when it has the `subgroups` feature (kernels
   *  then share loads across lanes with subgroupBroadcast), else 0. */
  subgroupMinSize: number;
}

let current: Gpu | null = null;
/** Dawn's `create()` result: it must stay reachable while the device lives (else V8 may collect it
 *  and the next await aborts inside Dawn), and must be dropped for the process to exit. */
let dawnInstance: unknown = null;
/** Instances of released devices, kept until their teardown has finished (see `release`). */
const retiredInstances = new Set<unknown>();
let pendingError: Error | null = null;
let initializing: Promise<Gpu> | null = null;
/** What holds objects of the device (pool, recorder, kernels) and must forget them when it goes. */
const releaseHooks: (() => void)[] = [];

const wantedLimits = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

async function navigatorGpu(): Promise<GPU | null> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) return null;
  const dawn = await import('webgpu');
  Object.assign(globalThis, dawn.globals);
  dawnInstance = dawn.create([]);
  return dawnInstance as GPU;
}

async function acquire(): Promise<Gpu> {
  const gpu = await navigatorGpu();
  if (!gpu) {
    throw new Error(
      'init: this browser has no WebGPU (navigator.gpu is undefined). Use a browser with WebGPU enabled ' +
        '(Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu).',
    );
  }
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    throw new Error(
      dawnInstance
        ? "init: no WebGPU adapter found (tried Dawn, npm 'webgpu', which needs a Vulkan driver). On a machine " +
            "without a GPU, run `bash scripts/setup.sh`: it installs Mesa's lavapipe (Vulkan on the CPU) from " +
            "bookworm-backports. Debian 12's own Mesa 22.3 is rejected by Dawn."
        : 'init: navigator.gpu.requestAdapter() found no WebGPU adapter in this browser. Check that WebGPU is ' +
            'enabled (chrome://gpu) and that the GPU is not blocklisted.',
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of wantedLimits) requiredLimits[name] = adapter.limits[name] as number;
  const hasTimestamps = adapter.features.has('timestamp-query');
  // Subgroup sizes are part of GPUAdapterInfo in current WebGPU, not yet in @webgpu/types.
  const subgroupMinSize = adapter.features.has('subgroups')
    ? ((adapter.info as GPUAdapterInfo & { subgroupMinSize?: number }).subgroupMinSize ?? 0)
    : 0;
  const requiredFeatures: GPUFeatureName[] = [];
  if (hasTimestamps) requiredFeatures.push('timestamp-query');
  if (subgroupMinSize > 0) requiredFeatures.push('subgroups' as GPUFeatureName);
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  device.addEventListener('uncapturederror', (event) => {
    if (current?.device !== device) return; // a released device's errors are not the next one's
    const error = (event as GPUUncapturedErrorEvent).error;
    pendingError ??= new Error(`WebGPU ${error.constructor.name}: ${error.message}`);
  });
  void device.lost.then((info) => {
    if (current?.device !== device) return; // released (destroyed on purpose) or replaced
    pendingError ??= new Error(`WebGPU device lost (${info.reason}): ${info.message}`);
  });
  const info = adapter.info;
  return {
    device,
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
    },
    limits: device.limits,
    hasTimestamps,
    subgroupMinSize,
  };
}

/** Acquires the adapter and device (once; later calls return the same). */
export async function init(): Promise<Gpu> {
  if (current) return current;
  initializing ??= acquire().then(
    (gpu) => (current = gpu),
    (error) => {
      initializing = null;
      throw error;
    },
  );
  return initializing;
}

/** The device acquired by `init()`; throws if `init()` has not completed. */
export function gpu(): Gpu {
  if (!current) throw new Error('no WebGPU device: call `await init()` before creating tensors or running ops');
  return current;
}

/** Throws the first GPU error seen since the last check (validation error, out of memory, device loss). */
export function throwPendingGpuError(context: string): void {
  if (!pendingError) return;
  const error = pendingError;
  pendingError = null;
  error.message = `${context}: ${error.message}`;
  throw error;
}

/** Registers `forget`, called by `release()`: the device's buffers, pipelines and encoders die with it,
 *  and whatever caches them must start afresh on the next device. */
export function onRelease(forget: () => void): void {
  releaseHooks.push(forget);
}

/** Destroys the device and drops Dawn, so that a Node process can exit. `init()` may be called again. */
export function release(): void {
  const gpuNow = current;
  current = null;
  initializing = null;
  pendingError = null;
  for (const forget of releaseHooks) forget();
  const instance = dawnInstance;
  dawnInstance = null;
  if (gpuNow) {
    // Dawn tears the device down on its own threads after destroy(); collecting the instance before that
    // ends crashed about one process in twenty at exit (glibc assertions, futex errors, segfaults). It
    // stays reachable until the device reports itself lost, then the process may exit.
    retiredInstances.add(instance);
    gpuNow.device.destroy();
    void gpuNow.device.lost.then(() => setTimeout(() => retiredInstances.delete(instance), 0));
  }
}

/**
 * The error for a readback whose `mapAsync` was rejected. A lost device rejects pending maps (Dawn: a
 * bare AbortError) and settles its `lost` promise at about the same time, so that promise is given a
 * moment to say whether the device was lost, which is then what the error says.
 */
export async function readbackError(device: GPUDevice, cause: unknown, context: string): Promise<Error> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const lost = await Promise.race([device.lost, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 100)))]);
  clearTimeout(timer);
  if (lost) {
    if (current?.device === device) pendingError = null; // reported here, not again at the next flush
    return new Error(`${context}: the WebGPU device was lost (${lost.reason}: ${lost.message || 'no message'})`);
  }
  const { name, message } = cause as Error;
  return new Error(`${context}: mapping the staging buffer failed (${name}${message ? `: ${message}` : ''})`);
}
