// The demo page in headless Chromium: Debian's /usr/bin/chromium driven by playwright-core (which never
// downloads a browser here), the pages built by scripts/build.mjs and served by scripts/serve.mjs, the
// way a user runs `npm run demo`. Chromium's WebGPU adapter is SwiftShader (Chromium blocklists
// lavapipe), several times slower than lavapipe in Node: the tests keep their models tiny.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Demo } from '../../web/index.js';

export const CHROMIUM = '/usr/bin/chromium';

/** WebGPU exists in headless Chromium only with --enable-unsafe-webgpu; the rest keeps a test run from
 *  reaching the network and from depending on the machine's profile. */
const FLAGS = [
  '--enable-unsafe-webgpu',
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

export interface DemoPage {
  page: Page;
  /** Where the server serves dist/, ending in '/'. */
  url: string;
  /** What the page keeps in `window.demo`. */
  state(): Promise<Demo>;
  /** Uncaught errors of the page so far. */
  errors: string[];
  close(): Promise<void>;
}

/** Starts the server on a free port; resolves with its URL once it listens. */
function startServer() {
  const server = spawn(process.execPath, ['scripts/serve.mjs', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (match) resolve(match[1]);
    });
    server.on('exit', (code) => reject(new Error(`scripts/serve.mjs exited (${code}) before listening; it printed: ${out}`)));
  });
  return { server, url };
}

/** Builds the bundle and pages, serves them, and opens the demo page with WebGPU ready. */
export async function openDemoPage(): Promise<DemoPage> {
  execFileSync(process.execPath, ['scripts/build.mjs', '--no-types'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const { server, url } = startServer();
  const profile = mkdtempSync(path.join(tmpdir(), 'pcnn-chromium-'));
  let context: BrowserContext | undefined;
  const close = async () => {
    await context?.close();
    server.kill();
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const state = () => page.evaluate(() => (window as unknown as { demo: Demo }).demo);
    const base = await url;
    await page.goto(`${base}web/`);
    await page.waitForFunction(() => (window as unknown as { demo?: Demo }).demo?.status !== 'starting', null, { timeout: 30_000 });
    const { status } = await state();
    if (status !== 'ready') throw new Error(`demo page: WebGPU not ready (${status}): ${await page.textContent('#status')}`);
    return { page, url: base, state, errors, close };
  } catch (error) {
    await close();
    throw error;
  }
}
