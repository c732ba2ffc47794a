// `npm run build`: the library and its pages, into dist/.
//   dist/pcnn-webgpu.js        ESM for browsers (package.json exports, condition "browser")
//   dist/pcnn-webgpu.node.js   ESM for Node, WebGPU through Dawn (npm 'webgpu', a dependency)
//   dist/pcnn-cli.js           the `pcnn` command, prebuilt for an installed package (bin/pcnn.mjs)
//   dist/types/                declarations, from `tsc --emitDeclarationOnly`
//   dist/web/                  the demo and benchmark pages; they import ../pcnn-webgpu.js, the bundle itself
// Usage: node scripts/build.mjs [--no-types]   (--no-types: skip tsc, for a quick page rebuild)
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const LIBRARY = 'pcnn-webgpu';

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  loader: { '.wgsl': 'text' },
  sourcemap: 'linked',
  logLevel: 'warning',
};

/**
 * Modules that only Node can run, replaced in the browser bundle by one that throws when loaded. Both
 * are imported dynamically and only on paths a browser never takes (Dawn when there is no
 * navigator.gpu; files for the path-taking safetensors/pth readers), so the bundle stays free of
 * `node:` imports and of bare specifiers a page could not resolve.
 */
const nodeOnly = {
  name: 'node-only',
  setup(b) {
    const stubs = {
      webgpu: "npm 'webgpu' (Dawn) is Node-only; in a browser WebGPU comes from navigator.gpu",
      './atomic-file.js': 'reading and writing files is Node-only; in a browser use encodeSafetensors / decodeSafetensors on bytes',
    };
    b.onResolve({ filter: /^(webgpu|\.\/atomic-file\.js)$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    b.onLoad({ filter: /.*/, namespace: 'node-only' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${LIBRARY}: ${stubs[args.path]}`)});`,
      loader: 'js',
    }));
  },
};

/** The pages import the public API as `../src/index.js` (type-checked against the sources); at run time
 *  that is the bundle next to them, so the pages run the very file the package ships. */
const libraryFromPages = {
  name: 'library-from-pages',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/src\/index\.js$/ }, (args) =>
      path.dirname(args.importer) === path.join(root, 'web') ? { path: `../${LIBRARY}.js`, external: true } : undefined,
    );
  },
};

export async function buildLibrary() {
  const { metafile } = await build({
    ...common,
    entryPoints: ['src/index.ts'],
    outfile: `dist/${LIBRARY}.js`,
    platform: 'browser',
    target: 'es2022',
    plugins: [nodeOnly],
    metafile: true,
  });
  const imports = metafile.outputs[`dist/${LIBRARY}.js`].imports.map((i) => i.path);
  if (imports.length) throw new Error(`build: dist/${LIBRARY}.js must be self-contained, but imports ${imports.join(', ')}`);
  const node = { ...common, platform: 'node', target: 'node18', packages: 'external' };
  await build({ ...node, entryPoints: ['src/index.ts'], outfile: `dist/${LIBRARY}.node.js` });
  await build({ ...node, entryPoints: ['src/fer/cli.ts'], outfile: 'dist/pcnn-cli.js' });
}

export async function buildPages() {
  const web = path.join(root, 'web');
  const pages = readdirSync(web).filter((f) => f.endsWith('.html'));
  const { metafile } = await build({
    ...common,
    entryPoints: pages.map((page) => `web/${page.replace(/\.html$/, '.ts')}`),
    outdir: 'dist/web',
    platform: 'browser',
    target: 'es2022',
    plugins: [libraryFromPages],
    metafile: true,
  });
  // A second copy of the engine in a page would hold its own device, pool and scopes: tensors of one
  // would be foreign to the other. Only host-side helpers (synthetic faces, transforms) may be bundled.
  const engineCopies = Object.keys(metafile.inputs).filter((input) => /^src\/(kernels\/|engine\/(?!random\.ts$))/.test(input));
  if (engineCopies.length) {
    throw new Error(`build: the pages must reach the engine through ../src/index.js only, but bundle ${engineCopies.join(', ')}`);
  }
  for (const file of readdirSync(web).filter((f) => /\.(html|css)$/.test(f))) copyFileSync(path.join(web, file), path.join(dist, 'web', file));
  // The demo model and the sample faces (web/assets/README.md says how they were made).
  rmSync(path.join(dist, 'web', 'assets'), { recursive: true, force: true });
  if (existsSync(path.join(web, 'assets'))) cpSync(path.join(web, 'assets'), path.join(dist, 'web', 'assets'), { recursive: true });
}

export function buildTypes() {
  rmSync(path.join(dist, 'types'), { recursive: true, force: true });
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(dist, { recursive: true });
  await buildLibrary();
  await buildPages();
  if (!process.argv.includes('--no-types')) buildTypes();
  console.log(`build: dist/${LIBRARY}.js, dist/${LIBRARY}.node.js, dist/pcnn-cli.js, dist/web/${process.argv.includes('--no-types') ? '' : ', dist/types/'}`);
}
