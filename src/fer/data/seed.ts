/**
 * One 32-bit seed from several integers (each folded in through murmur3's finaliser), so that the
 * random streams of (seed, epoch), (seed, index) and so on are unrelated and computable in any order.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    if (!Number.isSafeInteger(part)) throw new Error(`mixSeed: parts must be integers, got ${part}`);
    // High and low 32 bits both count, so seeds above 2^32 do not collide with their low words.
    h = fmix(h ^ fmix(part >>> 0));
    h = fmix(h ^ fmix(Math.floor(part / 4294967296) >>> 0));
  }
  return h;
}

function fmix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
