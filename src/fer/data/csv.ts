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

/** The default of readLines' `maxLineLength`: 1 MiB of characters. FER2013's rows, the longest of the
 *  label files, are about 7 KB; a longer line is a damaged or hostile file whose fields would be split
 *  into strings and arrays many times its size. */
export const DEFAULT_MAX_LINE_LENGTH = 2 ** 20;

/** Non-empty lines of a text file with their 1-based line numbers (CRLF tolerated). A line longer than
 *  `maxLineLength` characters is an error naming the file and the line, found before it is copied. */
export function readLines(path: string, maxLineLength = DEFAULT_MAX_LINE_LENGTH): { line: number; text: string }[] {
  if (!(Number.isSafeInteger(maxLineLength) && maxLineLength > 0)) {
    throw new Error(`csv: maxLineLength must be a positive integer, got ${maxLineLength}`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`csv: cannot read ${path}: ${(error as Error).message}`);
  }
  const lines: { line: number; text: string }[] = [];
  for (let start = 0, line = 1; start <= text.length; line++) {
    const newline = text.indexOf('\n', start);
    const end = newline < 0 ? text.length : newline;
    if (end - start > maxLineLength) {
      throw new Error(
        `csv: ${path}:${line} is ${end - start} characters long, more than the limit of ${maxLineLength} ` +
          `(the maxLineLength option raises it)`,
      );
    }
    const raw = text.slice(start, end).replace(/\r$/, '');
    if (raw.trim() !== '') lines.push({ line, text: raw });
    start = end + 1;
  }
  return lines;
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
