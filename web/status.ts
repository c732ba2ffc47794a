// The status line both pages open with: which adapter runs the kernels, or why nothing can run.
import type { AdapterDescription } from '../src/index.js';

export function showAdapter(line: HTMLElement, adapter: AdapterDescription): void {
  const name = [adapter.vendor, adapter.architecture, adapter.device || adapter.description].filter(Boolean).join(' / ');
  line.textContent = `WebGPU adapter: ${name}`;
}

/** `init()` failed: no navigator.gpu, no adapter, or no device with the limits we ask for. */
export function showNoWebGPU(line: HTMLElement, error: unknown): void {
  line.className = 'error';
  line.textContent =
    'WebGPU is not available in this browser, so nothing on this page can run. Chrome and Edge 113+ have it ' +
    '(on Linux, or headless, start Chromium with --enable-unsafe-webgpu). ' +
    `Details: ${error instanceof Error ? error.message : String(error)}`;
}
