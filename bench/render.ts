// Prints a results file of the suite as Markdown tables (for bench/RESULTS.md):
// node scripts/run.mjs bench/render.ts bench/results/<date>-<device>.json
import { readFileSync } from 'node:fs';
import { ceilingLines, floorRows, kernelRows, markdownTable, pcnnRows, stepBreakdown, type Results } from './report.js';

const [file] = process.argv.slice(2);
if (!file) throw new Error('bench/render.ts: give a results JSON file written by npm run bench');
const r = JSON.parse(readFileSync(file, 'utf8')) as Results;
const a = r.adapter;
const table = ({ header, rows }: { header: string[]; rows: string[][] }) => markdownTable(header, rows);
console.log(
  [
    `Command: \`${r.command}\`; date ${r.date}; commit ${r.commit ?? 'not recorded'}; adapter ${a.vendor} / ${a.architecture} / ${a.device} (${a.description}); ` +
      `TF.js ${r.tfjs.loaded ? r.tfjs.version : `not loaded (${r.tfjs.error})`}; ${r.reps} repetitions, median [min–max].`,
    '### Ceiling',
    ceilingLines(r.ceiling)
      .map((line) => `- ${line}`)
      .join('\n'),
    '### Kernels',
    table(kernelRows(r)),
    '### PCNN end to end',
    table(pcnnRows(r)),
    r.pcnnSkipped.map((s) => `- skipped ${s.name}: ${s.reason}`).join('\n'),
    ['```', ...stepBreakdown(r), '```'].join('\n'),
    '### Floors',
    table(floorRows(r)),
  ].join('\n\n'),
);
