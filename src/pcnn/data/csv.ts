/** Minimal CSV reading for the label files of FER2013, FERPlus and CK+ (RFC 4180 quoting, no multi-line fields). */
import { readFileSync } from 'node:fs';

/** Splits one line into fields; a field in double quotes may hold commas and "" for a quote. */
export function parseCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') fields.push(field), (field = '');
    else field += ch;
  }
  fields.push(field);
  return fields;
}

/** Non-empty lines of a text file with their 1-based line numbers (CRLF tolerated). */
export function readLines(path: string): { line: number; text: string }[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`csv: cannot read ${path}: ${(error as Error).message}`);
  }
  return text
    .split('\n')
    .map((raw, i) => ({ line: i + 1, text: raw.replace(/\r$/, '') }))
    .filter((l) => l.text.trim() !== '');
}

/** The index of each named column in a header row; throws naming the file and the missing column. */
export function columnIndex(header: string[], names: string[], path: string): number[] {
  const trimmed = header.map((h) => h.trim());
  return names.map((name) => {
    const index = trimmed.indexOf(name);
    if (index < 0) throw new Error(`csv: ${path} has no column '${name}' (header: ${trimmed.join(',')})`);
    return index;
  });
}
