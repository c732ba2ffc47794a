// Seeded streams are part of what a run reproduces (parameter init, synthetic data, the README's
// figures): normal() and normalPair() are one Box-Muller, each call takes exactly two uniforms, and the
// values a seed gives stay what they were.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator } from '../src/engine/random.js';

test('normal() is the first of normalPair() and takes the same two uniforms', () => {
  const single = new Generator(11);
  const paired = new Generator(11);
  for (let i = 0; i < 5; i++) assert.is(single.normal(), paired.normalPair()[0]);
  assert.equal(single.getState(), paired.getState());
  const draws = new Generator(11);
  for (let i = 0; i < 10; i++) draws.random();
  assert.equal(draws.getState(), single.getState());
});

test('seeded normals keep their values', () => {
  const g = new Generator(0);
  assert.equal([g.normal(), g.normal(), g.normal()], [-0.18286387008766009, -0.07349540968979319, -0.2562929997176884]);
  // normalPair(std) scales the radius: both halves at standard deviation 0.5.
  assert.equal(new Generator(7).normalPair(0.5), [-0.36385294850743294, -0.02802040782081466]);
});

test.run();
