// Runs bundled uvu test files in this process, one uvu run for all (one WebGPU device for all), and
// counts its summary. Shared by scripts/test.mjs and the GPU kit's test runner (scripts/gpu-kit/).
/**
 * Imports each bundle (`files[i]`, reported as `names[i]`) into uvu's deferred queue and runs them.
 * Resolves to the counts of uvu's summary; `failed` also counts an exit code set by a test.
 */
export async function runTestBundles(files, names) {
  const counts = {};
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => {
    const text = String(chunk).replace(/\x1b\[[0-9;]*m/g, '');
    for (const key of ['Total', 'Passed', 'Skipped']) {
      const match = new RegExp(`${key}:\\s+(\\d+)`).exec(text);
      if (match) counts[key] = Number(match[1]);
    }
    return write(chunk, ...rest);
  };
  // Set before uvu loads: its suites then wait for exec() instead of running on their own.
  globalThis.UVU_DEFER = 1;
  const uvu = await import('uvu');
  for (const [index, file] of files.entries()) {
    globalThis.UVU_INDEX = index;
    globalThis.UVU_QUEUE.push([names[index]]);
    await import(file);
  }
  await uvu.exec(false);
  process.stdout.write = write;
  // uvu's Total counts the tests that ran: skipped ones are not in it.
  const passed = counts.Passed ?? 0;
  const failed = (counts.Total ?? 0) - passed;
  return { passed, failed, skipped: counts.Skipped ?? 0, exitCodeSet: Boolean(process.exitCode) };
}
