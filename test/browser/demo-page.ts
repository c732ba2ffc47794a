// The pages in headless Chromium: Debian's /usr/bin/chromium driven by playwright-core (which never
// downloads a browser here), the pages built by scripts/build.mjs and served by scripts/serve.mjs, the
// way a user runs `npm run demo`. Chromium's WebGPU adapter is SwiftShader (Chromium blocklists
// lavapipe), several times slower than lavapipe in Node: the tests keep their models tiny.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import type { Demo } from '../../web/index.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Keeps a test run off the network and independent of the machine's profile. */
const FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];
/** Headless Chromium exposes navigator.gpu only with this. */
const WEBGPU = '--enable-unsafe-webgpu';

export interface Site {
  /** Where dist/ is served, ending in '/'. */
  url: string;
  stop(): void;
}

/** Builds the bundle and the pages, and serves them on a free port. */
export async function serveSite(): Promise<Site> {
  execFileSync(process.execPath, ['scripts/build.mjs', '--no-types'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const server = spawn(process.execPath, ['scripts/serve.mjs', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (match) resolve(match[1]);
    });
    server.on('exit', (code) => reject(new Error(`scripts/serve.mjs exited (${code}) before listening; it printed: ${out}`)));
  });
  return { url, stop: () => server.kill() };
}

export interface DemoPage {
  page: Page;
  /** What the page keeps in `window.demo`. */
  state(): Promise<Demo>;
  /** Uncaught errors of the page so far. */
  errors: string[];
  close(): Promise<void>;
}

/** Chromium's fake camera playing `y4m` (a YUV4MPEG2 file), granted without a prompt. */
export function fakeCamera(y4m: string): string[] {
  return ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`];
}

/** A fresh Chromium (own profile) on the demo page, once the page has settled whether it has WebGPU. */
export async function openDemoPage(site: Site, { webgpu = true, extraArgs = [] as string[], viewport = { width: 1100, height: 900 } } = {}): Promise<DemoPage> {
  const profile = mkdtempSync(path.join(tmpdir(), 'pcnn-chromium-'));
  const args = [...(webgpu ? [WEBGPU, ...FLAGS] : FLAGS), ...extraArgs];
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args, viewport, acceptDownloads: true }).catch((error) => {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${site.url}web/`);
    await page.waitForFunction(() => (window as unknown as { demo?: Demo }).demo?.status !== 'starting', null, { timeout: 30_000 });
    const state = () => page.evaluate(() => (window as unknown as { demo: Demo }).demo);
    return { page, state, errors, close };
  } catch (error) {
    await close();
    throw error;
  }
}
