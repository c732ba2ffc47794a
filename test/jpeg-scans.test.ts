// decodeImage checks a JPEG's scan headers against its frame before decoding: a baseline file relabelled
// progressive (its SOF0 byte changed to SOF2) decodes to noise with jpeg-js, without an error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeImage } from '../src/fer/data/image.js';

const fixture = (name: string) => new Uint8Array(readFileSync(path.resolve('test/fixtures/data', name)));

/** Offset of the first marker segment `marker` (its 0xFF byte) in `jpg`, walking the segment lengths. */
function segmentAt(jpg: Uint8Array, marker: number): number {
  for (let at = 2; at + 4 <= jpg.length; at += 2 + ((jpg[at + 2] << 8) | jpg[at + 3])) {
    if (jpg[at + 1] === marker) return at;
  }
  throw new Error(`no marker ${marker.toString(16)} in the fixture`);
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return assert.unreachable('expected an error') as never;
}

test('a baseline JPEG relabelled progressive (SOF0 -> SOF2) is refused before decoding, naming the file and the scan', () => {
  for (const name of ['rgb.jpg', 'gray.jpg']) {
    const jpg = fixture(name);
    assert.is(decodeImage(jpg, name).width, 10, `${name} itself decodes`);
    jpg[segmentAt(jpg, 0xc0) + 1] = 0xc2;
    assert.is(
      errorOf(() => decodeImage(jpg, `faces/${name}`)),
      `decodeImage: faces/${name}: invalid JPEG, scan 1 has Ss=0, Se=63, Ah=0, Al=0 in a progressive frame (SOF2): ` +
        'a baseline scan, as in a sequential JPEG whose frame marker was changed to progressive; not decoded',
    );
  }
});

test('progressive scan rules: a DC scan holds DC alone, Ss <= Se <= 63, AC scans one component, Ah/Al <= 13', () => {
  const relabelled = fixture('rgb.jpg'); // 3 components
  relabelled[segmentAt(relabelled, 0xc0) + 1] = 0xc2;
  const selection = segmentAt(relabelled, 0xda) + 5 + 2 * 3; // Ss, Se, Ah << 4 | Al
  const withScan = (ss: number, se: number, ahAl: number) => {
    const jpg = relabelled.slice();
    jpg.set([ss, se, ahAl], selection);
    return errorOf(() => decodeImage(jpg, 'p.jpg'));
  };
  assert.match(withScan(0, 5, 0), /p\.jpg: invalid JPEG, scan 1 has Ss=0, Se=5, Ah=0, Al=0 in a progressive frame \(SOF2\), where a DC scan \(Ss=0\) expects Se=0/);
  assert.match(withScan(6, 5, 0), /scan 1 has Ss=6, Se=5, .*which expects Ss <= Se <= 63/);
  assert.match(withScan(1, 64, 0), /scan 1 has Ss=1, Se=64, .*which expects Ss <= Se <= 63/);
  assert.match(withScan(1, 5, 0), /scan 1 has Ss=1, Se=5, Ah=0, Al=0 with 3 components .*where an AC scan \(Ss>0\) expects 1/);
  assert.match(withScan(0, 0, 0x0e), /scan 1 has Ss=0, Se=0, Ah=0, Al=14 .*which expects Ah and Al at most 13/);
  assert.match(withScan(0, 0, 0xe0), /Ah=14, Al=0 .*which expects Ah and Al at most 13/);
});

test('a sequential JPEG: every scan is the whole spectrum; scans after the first are found past the entropy-coded data', () => {
  const jpg = fixture('gray.jpg');
  const selection = segmentAt(jpg, 0xda) + 5 + 2 * 1;
  const firstScan = jpg.slice();
  firstScan[selection + 1] = 0; // Se = 0: a progressive DC scan in a baseline frame
  assert.match(
    errorOf(() => decodeImage(firstScan, 'b.jpg')),
    /^decodeImage: b\.jpg: invalid JPEG, scan 1 has Ss=0, Se=0, Ah=0, Al=0 in a sequential frame \(SOF0\), which expects Ss=0, Se=63, Ah=0, Al=0; not decoded$/,
  );
  // A second scan header (1 component, Ss=0, Se=0) before EOI: reached only by skipping scan 1's data.
  assert.equal([...jpg.subarray(-2)], [0xff, 0xd9], 'the fixture ends with EOI');
  const secondScan = new Uint8Array([...jpg.subarray(0, -2), 0xff, 0xda, 0, 8, 1, 1, 0, 0, 0, 0, 0xff, 0xd9]);
  assert.match(errorOf(() => decodeImage(secondScan, 'two.jpg')), /two\.jpg: invalid JPEG, scan 2 has Ss=0, Se=0, Ah=0, Al=0 in a sequential frame/);
});

test.run();
