// ARPGNet's graphs (src/arpgnet/graph.ts), host only: the region graph's borders, neighbourhoods and
// left-right symmetric pairs, the fusion graph's temporal and cross edges, block-diagonal batching, the
// SDPA adjacency mask and the sinusoidal position encoding.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { adjacencyMask, blockDiagonal, fusionGraph, regionGraph, sinusoidalEncoding } from '../src/arpgnet/graph.js';

/** The edge list as a sorted list of 'j>i' strings, and its undirected pairs. */
function edges(index: Int32Array): string[] {
  const e = index.length / 2;
  return Array.from({ length: e }, (_, k) => `${index[k]}>${index[e + k]}`).sort();
}

function neighboursOf(index: Int32Array, node: number): number[] {
  const e = index.length / 2;
  const out: number[] = [];
  for (let k = 0; k < e; k++) if (index[e + k] === node) out.push(index[k]);
  return out.sort((a, b) => a - b);
}

function assertSymmetricNoLoopsNoDuplicates(index: Int32Array, what: string): void {
  const list = edges(index);
  assert.is(new Set(list).size, list.length, `${what}: no duplicate edge`);
  for (const edge of list) {
    const [j, i] = edge.split('>').map(Number);
    assert.ok(j !== i, `${what}: no self-loop (${edge})`);
    assert.ok(list.includes(`${i}>${j}`), `${what}: ${edge} has its reverse`);
  }
}

test('region graph, 4-neighbours without symmetry: the grid, its borders and corners', () => {
  const P = 4;
  const g = regionGraph(P, { neighbours: 4, symmetry: false });
  assertSymmetricNoLoopsNoDuplicates(g, 'P=4, 4-nbr');
  assert.is(g.length / 2, 2 * 2 * P * (P - 1), '2P(P-1) pairs, both directions');
  assert.equal(neighboursOf(g, 0), [1, 4], 'top-left corner: right and below');
  assert.equal(neighboursOf(g, 3), [2, 7], 'top-right corner');
  assert.equal(neighboursOf(g, 12), [8, 13], 'bottom-left corner');
  assert.equal(neighboursOf(g, 15), [11, 14], 'bottom-right corner');
  assert.equal(neighboursOf(g, 1), [0, 2, 5], 'top border');
  assert.equal(neighboursOf(g, 7), [3, 6, 11], 'right border: no wrap to the next row (8)');
  assert.equal(neighboursOf(g, 8), [4, 9, 12], 'left border: no wrap to the previous row (7)');
  assert.equal(neighboursOf(g, 5), [1, 4, 6, 9], 'interior');
});

test('region graph, 8-neighbours: diagonals, clipped at the borders', () => {
  const P = 4;
  const g = regionGraph(P, { neighbours: 8, symmetry: false });
  assertSymmetricNoLoopsNoDuplicates(g, 'P=4, 8-nbr');
  assert.is(g.length / 2, 2 * (2 * P * (P - 1) + 2 * (P - 1) ** 2));
  assert.equal(neighboursOf(g, 0), [1, 4, 5]);
  assert.equal(neighboursOf(g, 3), [2, 6, 7]);
  assert.equal(neighboursOf(g, 7), [2, 3, 6, 10, 11]);
  assert.equal(neighboursOf(g, 5), [0, 1, 2, 4, 6, 8, 9, 10]);
});

test('region graph, symmetry: each cell joined to its mirror (r, P-1-c); even P dedupes the middle pair, odd P has no self-mirror edge', () => {
  for (const P of [4, 7]) {
    const plain = regionGraph(P, { neighbours: 4, symmetry: false });
    const sym = regionGraph(P, { neighbours: 4, symmetry: true });
    assertSymmetricNoLoopsNoDuplicates(sym, `P=${P}, symmetric`);
    const list = edges(sym);
    for (let r = 0; r < P; r++) {
      for (let c = 0; c < P; c++) {
        const mirror = r * P + (P - 1 - c);
        if (mirror !== r * P + c) assert.ok(list.includes(`${r * P + c}>${mirror}`), `P=${P}: (${r}, ${c}) -> its mirror`);
      }
    }
    // Added pairs: P rows x floor(P/2) mirror pairs, less the middle pair of an even P (already adjacent).
    const added = P * Math.floor(P / 2) - (P % 2 === 0 ? P : 0);
    assert.is((sym.length - plain.length) / 4, added, `P=${P}: ${added} new pairs`);
    // No edge leaves a row (mirroring is within the row).
    for (const edge of list) {
      const [j, i] = edge.split('>').map(Number);
      assert.ok(Math.abs(Math.floor(j / P) - Math.floor(i / P)) <= 1);
    }
  }
  const g7 = regionGraph(7, { neighbours: 8, symmetry: true });
  assert.equal(neighboursOf(g7, 0), [1, 6, 7, 8], 'P=7 corner: right, below, diagonal and the far corner (its mirror)');
  assert.equal(neighboursOf(g7, 3), [2, 4, 9, 10, 11], 'P=7 middle column: its own mirror, so no extra edge');
  assert.equal(regionGraph(1, { neighbours: 8, symmetry: true }).length, 0, 'P=1: one cell, no edges');
  assert.throws(() => regionGraph(4, { neighbours: 6 as 4, symmetry: true }), /neighbours must be 4 or 8/);
  assert.throws(() => regionGraph(0, { neighbours: 4, symmetry: true }), /positive integer/);
});

test('fusion graph: temporal chains per sequence, cross edges same / neighbours / none', () => {
  const T = 3;
  const same = fusionGraph(T, { sequences: 2, cross: 'same' });
  assertSymmetricNoLoopsNoDuplicates(same, 'same');
  const undirected = (g: Int32Array) => edges(g).filter((e) => { const [j, i] = e.split('>').map(Number); return j < i; });
  assert.equal(undirected(same), ['0>1', '0>3', '1>2', '1>4', '2>5', '3>4', '4>5'].sort());
  const near = fusionGraph(T, { sequences: 2, cross: 'neighbours' });
  assert.equal(undirected(near), ['0>1', '0>3', '0>4', '1>2', '1>3', '1>4', '1>5', '2>4', '2>5', '3>4', '4>5'].sort());
  assert.equal(undirected(fusionGraph(T, { sequences: 2, cross: 'none' })), ['0>1', '1>2', '3>4', '4>5']);
  assert.equal(undirected(fusionGraph(T, { sequences: 1, cross: 'neighbours' })), ['0>1', '1>2'], 'one sequence: no cross edges');
  assert.is(fusionGraph(1, { sequences: 1, cross: 'same' }).length, 0, 'T = 1, one sequence: no edges');
  assert.equal(undirected(fusionGraph(1, { sequences: 2, cross: 'neighbours' })), ['0>1'], 'T = 1: a_0 <-> r_0');
});

test('blockDiagonal: disjoint copies; adjacencyMask: rows are targets, with self-loops', () => {
  const g = Int32Array.from([0, 1, 1, 2]); // 0 -> 1, 1 -> 2
  assert.equal(Array.from(blockDiagonal(g, 3, 2)), [0, 1, 3, 4, 1, 2, 4, 5]);
  const mask = adjacencyMask(g, 3);
  assert.equal(Array.from(mask), [1, 0, 0, 1, 1, 0, 0, 1, 1], 'row i holds the sources of i and i itself');
});

test('sinusoidalEncoding: sin on even, cos on odd dimensions, step 0 = [0, 1, 0, 1, ...]', () => {
  const pe = sinusoidalEncoding(3, 4);
  assert.equal(Array.from(pe.subarray(0, 4)), [0, 1, 0, 1]);
  const expected = [Math.sin(2), Math.cos(2), Math.sin(2 / 100), Math.cos(2 / 100)];
  expected.forEach((v, i) => assert.ok(Math.abs(pe[8 + i] - v) < 1e-6, `PE[2, ${i}]`));
});

test.run();
