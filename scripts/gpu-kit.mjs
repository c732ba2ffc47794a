// Builds the GPU kit: a folder that checks this engine on a bare machine with nothing installed (no Node,
// no npm, no apt, perhaps no Vulkan loader): npm run gpu-kit -- DIR, then on that machine
// `bash DIR/run.sh RESULTS [--tests-only]` (scripts/gpu-kit/run.sh says what it runs).
// The kit carries this machine's Node (gzipped), Dawn's dawn.node (gzipped), Debian's Vulkan loader
// (and libstdc++ as a fallback), the test files and benchmarks bundled with every JS dependency inlined,
// and the test fixtures. It must stay under 60 MiB.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { nodeBundleOptions, root } from './build-node.mjs';

const MAX_KIT_BYTES = 60 * 2 ** 20;
const KIT_SOURCES = path.join(root, 'scripts', 'gpu-kit');
const DAWN_NODE = path.join(root, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node');

/** Test files the kit cannot run, recognised by what their source uses; the first rule that matches
 *  gives the reason printed (the package test also opens the browser). */
const LEFT_OUT_RULES = [
  { uses: /from 'esbuild'/, reason: 'packs the npm package and installs it with npm, which the kit does not carry' },
  { uses: /from '\.\/browser\//, reason: 'runs the demo page in a Chromium browser, which the kit does not carry' },
  { uses: /bin\/pcnn\.mjs|from '\.\/helpers\/cli\.js'/, reason: 'spawns the CLI (bin/pcnn.mjs), which the kit does not carry' },
];
/** Included test files with tests that skip in the kit: said beside the counts, so that a skip is expected. */
const PARTLY_SKIPPED = [{ uses: /shared\/data/, reason: 'its real-data smoke tests skip: the kit carries no ../shared/data' }];

/** Debian packages unpacked into the kit: the Vulkan loader always on the library path, libstdc++ only
 *  where the machine's own is missing or too old for Node and dawn.node. */
const DEBIAN_LIBRARIES = [
  { dir: 'lib', packages: ['libvulkan1'], files: /^libvulkan\.so/ },
  { dir: 'lib-fallback', packages: ['libstdc++6', 'libgcc-s1'], files: /^(libstdc\+\+\.so|libgcc_s\.so)/ },
];

function fail(message) {
  console.error(`gpu-kit: ${message}`);
  process.exit(1);
}

/** Written first, so that a kit whose build failed half-way is still recognised as one and replaced. */
const KIT_MARKER = '.gpu-kit';

function prepareKitDir(dir) {
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.length && !entries.includes(KIT_MARKER)) fail(`${dir} exists and is not an earlier kit (no ${KIT_MARKER} file): refusing to empty it`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, KIT_MARKER), 'a GPU kit, built by scripts/gpu-kit.mjs; rebuilding replaces this folder\n');
}

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return findTests(full);
    return entry.name.endsWith('.test.ts') ? [path.relative(root, full)] : [];
  });
}

function classifyTests() {
  const tests = [];
  const leftOut = [];
  const partlySkipped = [];
  for (const file of findTests(path.join(root, 'test')).sort()) {
    const source = readFileSync(path.join(root, file), 'utf8');
    const rule = LEFT_OUT_RULES.find((r) => r.uses.test(source));
    if (rule) {
      leftOut.push({ file, reason: rule.reason });
      continue;
    }
    tests.push(file);
    for (const note of PARTLY_SKIPPED.filter((n) => n.uses.test(source))) partlySkipped.push({ file, reason: note.reason });
  }
  return { tests, leftOut, partlySkipped };
}

/** npm `webgpu` finds dawn.node beside its own index.js; in a bundle that file is gone, so its loader is
 *  made to take the path run.sh gives it, in PCNN_DAWN_NODE. */
const dawnFromKit = {
  name: 'dawn-node-from-kit',
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: /node_modules[\\/]webgpu[\\/]index\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const located = /const dawnNodePath = [^\n]*;/;
      if (!located.test(source)) throw new Error(`gpu-kit: ${args.path} no longer has the 'const dawnNodePath = …;' line this build replaces; read how it finds dawn.node now`);
      const fromKit =
        'const dawnNodePath = process.env.PCNN_DAWN_NODE;\n' +
        "if (!dawnNodePath) throw new Error('webgpu (GPU kit bundle): PCNN_DAWN_NODE must name dawn.node; run the kit through its run.sh');";
      return { contents: source.replace(located, fromKit), loader: 'js' };
    });
  },
};

async function bundle(entries, outdir) {
  // Without `packages: 'external'` every npm package is inlined, but TF.js, which the bench loads on
  // demand and the kit runs without.
  const { packages: _external, ...options } = nodeBundleOptions(entries, outdir);
  await build({
    ...options,
    external: ['@tensorflow/*'],
    // Bundled CommonJS (pngjs, jpeg-js) calls require() for Node's own modules.
    banner: { js: "import { createRequire as __kitCreateRequire } from 'node:module'; const require = __kitCreateRequire(import.meta.url);" },
    // Beside the bundles rather than inside them; run with --enable-source-maps, stacks name the sources.
    sourcemap: 'linked',
    plugins: [dawnFromKit],
  });
}

async function gzipInto(source, target) {
  await pipeline(createReadStream(source), createGzip({ level: 9 }), createWriteStream(target));
}

/** apt-get download + dpkg -x: the package files of this machine's Debian, whatever is installed. */
function unpackDebianLibraries(kitDir) {
  const work = mkdtempSync(path.join(tmpdir(), 'gpu-kit-debs-'));
  try {
    for (const { dir, packages, files } of DEBIAN_LIBRARIES) {
      const target = path.join(kitDir, dir);
      mkdirSync(target, { recursive: true });
      for (const name of packages) {
        const downloads = path.join(work, name);
        mkdirSync(downloads);
        try {
          execFileSync('apt-get', ['download', name], { cwd: downloads, stdio: ['ignore', 'ignore', 'pipe'] });
        } catch (error) {
          fail(`apt-get download ${name} failed (the kit needs Debian's archive): ${String(error.stderr ?? error.message).trim()}`);
        }
        const [deb] = readdirSync(downloads).filter((f) => f.endsWith('.deb'));
        execFileSync('dpkg', ['-x', path.join(downloads, deb), path.join(downloads, 'root')]);
        // Debian keeps libraries in usr/lib/<triplet>, a few (libgcc_s) still in lib/<triplet>.
        const found = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu']
          .map((libDir) => path.join(downloads, 'root', libDir))
          .flatMap((libDir) => (existsSync(libDir) ? readdirSync(libDir).filter((f) => files.test(f)).map((f) => path.join(libDir, f)) : []));
        if (!found.length) fail(`${deb} holds no file matching ${files} under usr/lib or lib/x86_64-linux-gnu`);
        // cpSync keeps symbolic links (libvulkan.so.1 -> libvulkan.so.1.3.239) as links.
        for (const file of found) cpSync(file, path.join(target, path.basename(file)), { verbatimSymlinks: true });
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function gitCommit() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function sizeOf(target) {
  // lstat: a library's symbolic links (libvulkan.so.1 -> libvulkan.so.1.3.239) are not counted twice.
  const stat = lstatSync(target, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(target).reduce((sum, name) => sum + sizeOf(path.join(target, name)), 0);
}

const [kitArg, ...extra] = process.argv.slice(2);
if (!kitArg || extra.length) fail('usage: npm run gpu-kit -- DIR (the folder to write the kit to)');
if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the kit is for Linux x86-64 machines and carries this machine's Node: this is ${process.platform}-${process.arch}`);
if (!existsSync(DAWN_NODE)) fail(`${DAWN_NODE} is missing: run npm install (npm run setup) first`);
const kitDir = path.resolve(kitArg);
prepareKitDir(kitDir);

const { tests, leftOut, partlySkipped } = classifyTests();
console.log(`gpu-kit: bundling ${tests.length} test files, the bench and the kit's stages…`);
const stages = ['scripts/gpu-kit/run-tests.mjs', 'scripts/gpu-kit/adapter.ts', 'scripts/gpu-kit/pcnn-steps.ts', 'bench/index.ts'];
await bundle([...tests, ...stages], path.join(kitDir, 'root', 'js'));
cpSync(path.join(root, 'test', 'fixtures'), path.join(kitDir, 'root', 'test', 'fixtures'), { recursive: true });

console.log('gpu-kit: compressing node and dawn.node…');
mkdirSync(path.join(kitDir, 'bin'));
await gzipInto(process.execPath, path.join(kitDir, 'bin', 'node.gz'));
await gzipInto(DAWN_NODE, path.join(kitDir, 'bin', 'dawn.node.gz'));

console.log(`gpu-kit: unpacking ${DEBIAN_LIBRARIES.flatMap((l) => l.packages).join(', ')} from Debian…`);
unpackDebianLibraries(kitDir);

for (const file of ['run.sh', 'main.mjs']) copyFileSync(path.join(KIT_SOURCES, file), path.join(kitDir, file));
const webgpuVersion = JSON.parse(readFileSync(path.join(root, 'node_modules', 'webgpu', 'package.json'), 'utf8')).version;
const manifest = { commit: gitCommit(), built: new Date().toISOString(), node: process.version, webgpu: webgpuVersion, tests, leftOut, partlySkipped };
writeFileSync(path.join(kitDir, 'kit.json'), `${JSON.stringify(manifest, null, 2)}\n`);

const bytes = sizeOf(kitDir);
const mib = (bytes / 2 ** 20).toFixed(1);
if (bytes > MAX_KIT_BYTES) fail(`the kit in ${kitDir} is ${mib} MiB, over the ${MAX_KIT_BYTES / 2 ** 20} MiB it must fit in`);
console.log(`gpu-kit: wrote ${kitDir} (${mib} MiB, commit ${manifest.commit}); ${tests.length} test files, ${leftOut.length} left out. Run: bash ${kitArg}/run.sh RESULTS [--tests-only]`);
