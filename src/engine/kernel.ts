/**
 * A compute kernel: one WGSL source, its bind-group layout and uniform struct derived from the source
 * with `wgsl_reflect` (no hand-kept offset tables), pipelines cached per specialisation (WGSL
 * `override` constants), and bind groups cached per set of buffers.
 *
 * Conventions every shader follows: all resources in `@group(0)`; at most one `var<uniform>`, bound with
 * a dynamic offset into the recorder's uniform arena; storage buffers bound whole (bounds come from the
 * uniforms, never from `arrayLength`, since pooled buffers are larger than the tensors they hold).
 */
import { WgslReflect, WgslParser, Const, LiteralExpr, ScalarData, ResourceType, type MemberInfo } from 'wgsl_reflect/wgsl_reflect.module.js';
import { gpu, onRelease } from './device.js';

export type UniformValue = number | readonly number[];
export type Uniforms = Record<string, UniformValue>;
export type Constants = Record<string, number>;

type ScalarKind = 'f32' | 'u32' | 'i32';
interface UniformField {
  name: string;
  offset: number;
  kind: ScalarKind;
  /** Scalars a value of this field holds (vecN: N; array<vecN, M>: N*M, laid out with `stride`). */
  count: number;
  vectorWidth: number;
  stride: number;
}
interface StorageBinding {
  name: string;
  binding: number;
  readOnly: boolean;
}

/** Device objects created so far, for tests and benchmarks: a steady training step creates none. */
export const kernelStats = { pipelines: 0, bindGroups: 0 };

const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;
function bufferId(buffer: GPUBuffer): number {
  let id = bufferIds.get(buffer);
  if (id === undefined) bufferIds.set(buffer, (id = nextBufferId++));
  return id;
}

function scalarKind(typeName: string, where: string): ScalarKind {
  const match = /(f32|u32|i32)/.exec(typeName);
  if (match) return match[1] as ScalarKind;
  // wgsl_reflect names vec4<u32> by its short alias, vec4u.
  const alias = /^vec\d([fui])$/.exec(typeName);
  if (!alias) throw new Error(`${where}: uniform type ${typeName} is not made of f32, u32 or i32`);
  return `${alias[1]}32` as ScalarKind;
}

function uniformFields(members: MemberInfo[], where: string): UniformField[] {
  return members.map((member) => {
    const type = member.type;
    if (type.isArray) {
      const element = member.format!;
      const width = Number(/vec(\d)/.exec(element.name)?.[1] ?? 1);
      return {
        name: member.name,
        offset: member.offset,
        kind: scalarKind(element.getTypeName(), where),
        count: width * member.count,
        vectorWidth: width,
        stride: member.stride,
      };
    }
    const width = Number(/vec(\d)/.exec(type.getTypeName())?.[1] ?? 1);
    return {
      name: member.name,
      offset: member.offset,
      kind: scalarKind(type.getTypeName(), where),
      count: width,
      vectorWidth: width,
      stride: 4 * width,
    };
  });
}

/** A kernel's objects on the current device, made on first use; they die with the device. */
interface DeviceObjects {
  layout: GPUBindGroupLayout;
  pipelineLayout: GPUPipelineLayout;
  pipelines: Map<string, GPUComputePipeline>;
  bindGroups: Map<string, GPUBindGroup>;
}
let deviceObjects = new WeakMap<Kernel, DeviceObjects>();
onRelease(() => (deviceObjects = new WeakMap()));

const NUMERIC_CONSTANT_TYPES = new Set(['u32', 'i32', 'f32', /* abstract int */ 'x32']);

/**
 * The module-scope `const`s of a WGSL source that evaluate to one number (`const NAME = 4u;`,
 * `const NAME: u32 = WG * 4u;`), by name. Host code reads the numbers it shares with a shader (function
 * codes, tile sizes) from here, so that the shader is their only source.
 */
export function wgslConstants(source: string): ReadonlyMap<string, number> {
  const constants = new Map<string, number>();
  for (const statement of new WgslParser().parse(source)) {
    if (!(statement instanceof Const) || !(statement.value instanceof LiteralExpr)) continue;
    const value = statement.value.value;
    if (value instanceof ScalarData && NUMERIC_CONSTANT_TYPES.has(value.typeInfo.name)) constants.set(statement.name, value.data[0]);
  }
  return constants;
}

let kernelCount = 0;

export class Kernel {
  /** A number of its own (the recorder hashes the kernels of a batch of work by it). */
  readonly id = ++kernelCount;
  readonly storage: StorageBinding[] = [];
  readonly uniformBinding: number | null = null;
  readonly uniformFields: UniformField[] = [];
  readonly uniformSize: number = 0;
  readonly workgroupSize: readonly [number, number, number] | null;
  readonly usesWorkgroupMemory: boolean;
  /** Parsed on first use: most kernels share no constant with the host. */
  private constants: ReadonlyMap<string, number> | null = null;

  constructor(
    readonly name: string,
    readonly source: string,
    readonly entryPoint = 'main',
  ) {
    const reflect = new WgslReflect(source);
    const entry = reflect.entry.compute.find((f) => f.name === entryPoint);
    if (!entry) throw new Error(`kernel ${name}: no @compute entry point '${entryPoint}'`);
    this.workgroupSize = entry.workgroupSize;
    this.usesWorkgroupMemory = /var\s*<\s*workgroup\s*>/.test(source);
    for (const group of reflect.getBindGroups()) {
      for (const variable of group ?? []) {
        if (!variable) continue;
        if (variable.group !== 0) throw new Error(`kernel ${name}: resource ${variable.name} is not in @group(0)`);
        if (variable.resourceType === ResourceType.Uniform) {
          if (this.uniformBinding !== null) throw new Error(`kernel ${name}: more than one uniform binding`);
          this.uniformBinding = variable.binding;
          this.uniformFields = uniformFields(variable.members ?? [], `kernel ${name}`);
          this.uniformSize = variable.size;
        } else if (variable.resourceType === ResourceType.Storage) {
          this.storage.push({ name: variable.name, binding: variable.binding, readOnly: variable.access !== 'read_write' });
        } else {
          throw new Error(`kernel ${name}: resource ${variable.name} is neither a uniform nor a storage buffer`);
        }
      }
    }
  }

  /** The number the module-scope `const NAME` of this kernel's WGSL holds (see `wgslConstants`). */
  constant(name: string): number {
    this.constants ??= wgslConstants(this.source);
    const value = this.constants.get(name);
    if (value === undefined) {
      throw new Error(
        `kernel ${this.name}: expected a module-scope numeric const '${name}' in its WGSL, ` +
          `found only ${[...this.constants.keys()].join(', ') || 'none'}`,
      );
    }
    return value;
  }

  /** Invocations in one workgroup, by the entry point's @workgroup_size (an override-sized one: its default). */
  get workgroupInvocations(): number {
    const [x, y, z] = this.workgroupSize ?? [1, 1, 1];
    return x * y * z;
  }

  /** Writes `values` into `target` (a uniform arena slot) at the offsets the WGSL struct declares. */
  packUniforms(values: Uniforms, target: DataView, base: number): void {
    const given = new Set(Object.keys(values));
    for (const field of this.uniformFields) {
      const value = values[field.name];
      if (value === undefined) throw new Error(`kernel ${this.name}: uniform '${field.name}' not given`);
      given.delete(field.name);
      const list = typeof value === 'number' ? [value] : value;
      if (list.length !== field.count) {
        throw new Error(`kernel ${this.name}: uniform '${field.name}' needs ${field.count} values, got ${list.length}`);
      }
      for (let i = 0; i < list.length; i++) {
        const at = base + field.offset + Math.floor(i / field.vectorWidth) * field.stride + (i % field.vectorWidth) * 4;
        const v = list[i];
        if (field.kind === 'f32') target.setFloat32(at, v, true);
        else {
          // DataView would wrap -1 to 4294967295 and cut 2.5 to 2 without a word.
          const [low, high] = field.kind === 'u32' ? [0, 2 ** 32 - 1] : [-(2 ** 31), 2 ** 31 - 1];
          if (!Number.isInteger(v) || v < low || v > high) {
            const where = list.length > 1 ? `${field.name}[${i}]` : field.name;
            throw new Error(`kernel ${this.name}: uniform '${where}' is ${field.kind}, which holds integers ${low}..${high}; got ${v}`);
          }
          if (field.kind === 'u32') target.setUint32(at, v, true);
          else target.setInt32(at, v, true);
        }
      }
    }
    if (given.size) throw new Error(`kernel ${this.name}: unknown uniform(s) ${[...given].join(', ')}`);
  }

  pipeline(constants: Constants = {}): GPUComputePipeline {
    const objects = this.deviceObjects();
    const key = JSON.stringify(constants);
    let pipeline = objects.pipelines.get(key);
    if (!pipeline) {
      const { device } = gpu();
      const module = device.createShaderModule({ code: this.source, label: this.name });
      pipeline = device.createComputePipeline({
        label: key === '{}' ? this.name : `${this.name}${key}`,
        layout: objects.pipelineLayout,
        compute: { module, entryPoint: this.entryPoint, constants },
      });
      objects.pipelines.set(key, pipeline);
      kernelStats.pipelines++;
    }
    return pipeline;
  }

  /** Bind group of these storage bindings (a whole buffer, or a packed tensor's range), cached per set. */
  bindGroup(buffers: Record<string, GPUBufferBinding>, uniformArena: GPUBuffer | null): GPUBindGroup {
    const ordered = this.storage.map((b) => {
      const binding = buffers[b.name];
      if (!binding) throw new Error(`kernel ${this.name}: storage buffer '${b.name}' not given`);
      return binding;
    });
    if (Object.keys(buffers).length !== this.storage.length) {
      const unknown = Object.keys(buffers).filter((n) => !this.storage.some((b) => b.name === n));
      throw new Error(`kernel ${this.name}: unknown buffer(s) ${unknown.join(', ')}`);
    }
    const key =
      ordered.map((b) => (b.size === undefined ? `${bufferId(b.buffer)}` : `${bufferId(b.buffer)}@${b.offset ?? 0}+${b.size}`)).join(',') +
      (uniformArena ? `|${bufferId(uniformArena)}` : '');
    const objects = this.deviceObjects();
    let group = objects.bindGroups.get(key);
    if (!group) {
      if (objects.bindGroups.size > 4096) objects.bindGroups.clear();
      const entries: GPUBindGroupEntry[] = this.storage.map((b, i) => ({ binding: b.binding, resource: ordered[i] }));
      if (this.uniformBinding !== null) {
        entries.push({ binding: this.uniformBinding, resource: { buffer: uniformArena!, size: this.uniformSize } });
      }
      group = gpu().device.createBindGroup({ label: this.name, layout: objects.layout, entries });
      objects.bindGroups.set(key, group);
      kernelStats.bindGroups++;
    }
    return group;
  }

  private deviceObjects(): DeviceObjects {
    let objects = deviceObjects.get(this);
    if (!objects) {
      const { device } = gpu();
      const entries: GPUBindGroupLayoutEntry[] = this.storage.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.readOnly ? 'read-only-storage' : 'storage' },
      }));
      if (this.uniformBinding !== null) {
        entries.push({
          binding: this.uniformBinding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: this.uniformSize },
        });
      }
      const layout = device.createBindGroupLayout({ label: this.name, entries });
      const pipelineLayout = device.createPipelineLayout({ label: this.name, bindGroupLayouts: [layout] });
      objects = { layout, pipelineLayout, pipelines: new Map(), bindGroups: new Map() };
      deviceObjects.set(this, objects);
    }
    return objects;
  }
}

/**
 * The number module-scope `const NAME` holds in each of `kernels`, which must be one value: where the
 * host derives one uniform for several kernels from a constant each declares (a WGSL file reads on its
 * own), a copy edited in one file alone is an error naming the kernels, not a silent mismatch.
 */
export function agreedConstant(kernels: readonly Kernel[], name: string): number {
  const values = kernels.map((kernel) => kernel.constant(name));
  if (values.some((value) => value !== values[0])) {
    throw new Error(`kernels ${kernels.map((k, i) => `${k.name} (${values[i]})`).join(', ')} must agree on const ${name}`);
  }
  return values[0];
}
