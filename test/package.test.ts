// The npm package as a user gets it: `npm pack` (whose prepack builds dist/), the tarball installed into
// an empty project with no repository beside it, and used there: imported in Node (a matmul), the `pcnn`
// command (info, and predict on a small checkpoint), and the browser bundle reached through the package's
// `exports` and run in headless Chromium. The install comes from npm's cache, which setup filled.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { PCNN } from '../src/index.js';
import { saveCheckpoint } from '../src/fer/checkpoint.js';
import { SYNTHETIC_CLASSES, syntheticFace } from '../src/fer/data/synthetic.js';
import { encodePng } from '../src/fer/data/index.js';
import { repoRoot } from './helpers/index.js';
import { CHROMIUM } from './browser/demo-page.js';

const work = mkdtempSync(path.join(tmpdir(), 'pcnn-package-'));
const project = path.join(work, 'project');
/** What a user needs and nothing else: the command, the bundles with their maps, the declarations. */
const SHIPPED = /^(package\.json|README\.md|bin\/pcnn\.mjs|dist\/pcnn-(webgpu|webgpu\.node|cli)\.js(\.map)?|dist\/types\/.+\.d\.ts)$/;

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test('npm pack ships the bundles, the prebuilt command and the declarations, and nothing else', () => {
  // What prepack's build prints comes first; npm's JSON report is the rest.
  const report = run('npm', ['pack', '--json', '--pack-destination', work], repoRoot);
  const [packed] = JSON.parse(report.slice(report.search(/^\[/m))) as {
    filename: string;
    files: { path: string }[];
  }[];
  const files = packed.files.map((f) => f.path);
  assert.equal(files.filter((f) => !SHIPPED.test(f)), [], 'files outside the list');
  for (const needed of ['dist/pcnn-webgpu.js', 'dist/pcnn-webgpu.node.js', 'dist/pcnn-cli.js', 'dist/types/index.d.ts', 'bin/pcnn.mjs']) {
    assert.ok(files.includes(needed), `${needed} is in the tarball`);
  }
  mkdirSync(project);
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'a-user-project', private: true, type: 'module' }));
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, packed.filename)], project);
});

test('installed: imported in Node, a matmul runs on the adapter', () => {
  const script = `import { init, tensor, matmul, release } from 'pcnn-webgpu';
await init();
const c = matmul(tensor([1, 2, 3, 4], [2, 2]), tensor([5, 6, 7, 8], [2, 2]));
console.log(JSON.stringify(Array.from(await c.toArray())));
release();`;
  writeFileSync(path.join(project, 'matmul.mjs'), script);
  assert.equal(JSON.parse(run(process.execPath, ['matmul.mjs'], project).trim()), [19, 22, 43, 50]);
});

test('installed: npx pcnn info and predict run the prebuilt command, writing nothing into the package', async () => {
  assert.ok(run('npx', ['pcnn', 'info', '--width', '1', '--input-size', '32'], project).includes('parameters'), 'info reports parameters');
  const model = new PCNN({ width: 1, inChannels: 1, inputSize: [32, 32], numClasses: SYNTHETIC_CLASSES.length });
  model.eval();
  await saveCheckpoint(path.join(project, 'tiny.safetensors'), { model, meta: { config: model.config, classNames: SYNTHETIC_CLASSES } });
  model.dispose();
  writeFileSync(path.join(project, 'face.png'), encodePng(syntheticFace(3, 1, 32, 1), 1, 32, 32));
  const out = run('npx', ['pcnn', 'predict', 'face.png', '--checkpoint', 'tiny.safetensors', '--out', 'predictions'], project);
  for (const name of SYNTHETIC_CLASSES) assert.ok(out.includes(name), `predict lists ${name}`);
  assert.ok(existsSync(path.join(project, 'predictions', 'face.prediction.png')), 'the picture is written');
  const installed = path.join(project, 'node_modules', 'pcnn-webgpu');
  assert.equal(readdirSync(installed).sort(), ['README.md', 'bin', 'dist', 'package.json'], 'the package folder is as installed');
});

const browserTest = existsSync(CHROMIUM) ? test : test.skip;
browserTest('installed: the browser bundle, resolved through the exports, runs a matmul in Chromium', async () => {
  const page = path.join(project, 'page');
  mkdirSync(page);
  writeFileSync(
    path.join(page, 'main.js'),
    `import { init, tensor, matmul } from 'pcnn-webgpu';
await init();
window.result = Array.from(await matmul(tensor([1, 2, 3, 4], [2, 2]), tensor([5, 6, 7, 8], [2, 2])).toArray());`,
  );
  writeFileSync(path.join(page, 'index.html'), '<!doctype html><script type="module" src="bundle.js"></script>');
  const { metafile } = await build({
    absWorkingDir: project,
    entryPoints: ['page/main.js'],
    outfile: 'page/bundle.js',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    metafile: true,
    logLevel: 'silent',
  });
  assert.equal(
    Object.keys(metafile.inputs).filter((f) => f.includes('pcnn-webgpu')),
    ['node_modules/pcnn-webgpu/dist/pcnn-webgpu.js'],
    'the "browser" condition of the exports picks the browser bundle',
  );
  const server = spawn(process.execPath, [path.join(repoRoot, 'scripts/serve.mjs'), '--port', '0', '--root', page], { stdio: ['ignore', 'pipe', 'inherit'] });
  const profile = mkdtempSync(path.join(tmpdir(), 'pcnn-chromium-'));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout.on('data', (chunk) => {
        const match = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(String(chunk));
        if (match) resolve(match[1]);
      });
      server.on('exit', (code) => reject(new Error(`scripts/serve.mjs exited (${code}) before listening`)));
    });
    const args = ['--enable-unsafe-webgpu', '--headless=new', '--no-sandbox', '--disable-background-networking', '--no-first-run'];
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args });
    try {
      const tab = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      tab.on('pageerror', (error) => errors.push(error.message));
      await tab.goto(`${url}index.html`);
      await tab.waitForFunction(() => 'result' in window || document.title === 'error', null, { timeout: 60_000 }).catch(() => {
        throw new Error(`the page computed nothing; its errors: ${errors.join('; ') || 'none'}`);
      });
      assert.equal(await tab.evaluate(() => (window as unknown as { result: number[] }).result), [19, 22, 43, 50]);
    } finally {
      await context.close();
    }
  } finally {
    server.kill();
    rmSync(profile, { recursive: true, force: true });
  }
});

test.run();
