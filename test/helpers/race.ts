// Race detection for kernels that use workgroup memory: wgsl_reflect's `detectRaces` interprets every
// invocation of each workgroup in lockstep between barriers and reports two invocations touching the
// same bytes (at least one writing) within one barrier interval. It runs on the CPU, without a device,
// so dispatches must be small (a few workgroups of a few dozen invocations).
import { detectRaces, WgslReflect, ResourceType } from 'wgsl_reflect/wgsl_reflect.module.js';
import { Kernel, type Uniforms } from '../../src/engine/kernel.js';

export interface RaceCheck {
  /** Workgroups to interpret, [x, y, z] (missing counts are 1). */
  workgroups: number[];
  /** Contents of every storage buffer, by variable name, large enough for what the dispatch touches. */
  buffers: Record<string, Float32Array | Int32Array | Uint32Array>;
  /** Values of the uniform struct's fields (packed as the engine packs them). */
  uniforms?: Uniforms;
  /** WGSL `override` values (booleans as 0 / 1), e.g. smaller workgroups to keep the run short. */
  constants?: Record<string, number>;
  entryPoint?: string;
}

/** Throws, listing the first reports, when `source` has a data race or a barrier in divergent control
 *  flow under the given dispatch. `what` names the kernel in the message. */
export function assertNoRaces(source: string, what: string, check: RaceCheck): void {
  const entryPoint = check.entryPoint ?? 'main';
  const kernel = new Kernel(what, source, entryPoint);
  const bindGroups: Record<string, Record<string, unknown>> = {};
  const given = new Set(Object.keys(check.buffers));
  for (const group of new WgslReflect(source).getBindGroups()) {
    for (const variable of group ?? []) {
      if (!variable) continue;
      let resource: unknown;
      if (variable.resourceType === ResourceType.Uniform) {
        const data = new ArrayBuffer(kernel.uniformSize);
        kernel.packUniforms(check.uniforms ?? {}, new DataView(data), 0);
        resource = { uniform: data };
      } else {
        const buffer = check.buffers[variable.name];
        if (!buffer) throw new Error(`assertNoRaces(${what}): storage buffer '${variable.name}' not given`);
        given.delete(variable.name);
        // The interpreter writes into the buffer: give it a copy.
        resource = buffer.slice();
      }
      (bindGroups[variable.group] ??= {})[variable.binding] = resource;
    }
  }
  if (given.size) throw new Error(`assertNoRaces(${what}): unknown buffer(s) ${[...given].join(', ')}`);
  const result = detectRaces(source, entryPoint, check.workgroups, bindGroups, { constants: check.constants ?? {} });
  const reports = [...result.errors, ...result.races.map((race) => race.message)];
  if (reports.length) {
    const shown = reports.slice(0, 5).join('\n  ');
    throw new Error(`${what}: ${reports.length} race report(s) for workgroups [${check.workgroups}]:\n  ${shown}`);
  }
}
