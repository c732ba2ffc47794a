/**
 * A reader for zip archives whose entries are STORED (no compression), as torch.save writes them:
 * the end-of-central-directory record (zip64 when present, which torch always writes) locates the
 * central directory; each entry's data follows its local header. Entries are returned as views of
 * the archive's bytes, after their CRC-32 is checked. Compressed or encrypted entries are refused.
 */

export interface StoredZip {
  names: string[];
  /** The bytes of one entry (CRC-checked); throws naming the archive for a missing entry. */
  read(name: string): Uint8Array;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const ZIP64_EXTRA = 0x0001;

let crcTable: Uint32Array | null = null;

function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

interface ZipEntry {
  method: number;
  flags: number;
  crc: number;
  size: number;
  compressedSize: number;
  localOffset: number;
}

export function readStoredZip(bytes: Uint8Array, what: string): StoredZip {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (message: string): never => {
    throw new Error(`${what}: ${message}`);
  };
  const u16 = (at: number) => (at + 2 <= bytes.length ? view.getUint16(at, true) : fail(`truncated zip at byte ${at}`));
  const u32 = (at: number) => (at + 4 <= bytes.length ? view.getUint32(at, true) : fail(`truncated zip at byte ${at}`));
  const u64 = (at: number) => {
    const value = at + 8 <= bytes.length ? view.getBigUint64(at, true) : fail(`truncated zip at byte ${at}`);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : fail(`zip field at byte ${at} is too large`);
  };

  // The end record is 22 bytes plus a comment of at most 65535: search backwards for its signature.
  let end = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) === EOCD) {
      end = at;
      break;
    }
  }
  if (end < 0) fail('not a zip archive (no end-of-central-directory record): truncated, or not a torch.save file');
  let count = u16(end + 10);
  let directoryOffset = u32(end + 16);
  if (end >= 20 && u32(end - 20) === ZIP64_LOCATOR) {
    const record = u64(end - 20 + 8);
    if (u32(record) !== ZIP64_EOCD) fail(`corrupt zip64 end record at byte ${record}`);
    count = u64(record + 32);
    directoryOffset = u64(record + 48);
  }

  const entries = new Map<string, ZipEntry>();
  let at = directoryOffset;
  for (let i = 0; i < count; i++) {
    if (u32(at) !== CENTRAL) fail(`corrupt central directory at byte ${at} (entry ${i} of ${count})`);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const commentLength = u16(at + 32);
    if (at + 46 + nameLength > bytes.length) fail(`truncated central directory at byte ${at}`);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
    const entry: ZipEntry = {
      flags: u16(at + 8),
      method: u16(at + 10),
      crc: u32(at + 16),
      compressedSize: u32(at + 20),
      size: u32(at + 24),
      localOffset: u32(at + 42),
    };
    // Fields that overflow 32 bits are 0xffffffff and follow, in this order, in the zip64 extra field.
    for (let extra = at + 46 + nameLength; extra < at + 46 + nameLength + extraLength; extra += 4 + u16(extra + 2)) {
      if (u16(extra) !== ZIP64_EXTRA) continue;
      let field = extra + 4;
      for (const key of ['size', 'compressedSize', 'localOffset'] as const) {
        if (entry[key] === 0xffffffff) {
          entry[key] = u64(field);
          field += 8;
        }
      }
    }
    entries.set(name, entry);
    at += 46 + nameLength + extraLength + commentLength;
  }

  return {
    names: [...entries.keys()],
    read(name: string): Uint8Array {
      const entry = entries.get(name) ?? fail(`no entry '${name}' in the archive`);
      if (entry.flags & 1) fail(`entry '${name}' is encrypted`);
      if (entry.method !== 0 || entry.compressedSize !== entry.size) {
        fail(`entry '${name}' is compressed (method ${entry.method}); torch.save stores entries uncompressed`);
      }
      const local = entry.localOffset;
      if (u32(local) !== LOCAL) fail(`corrupt local header of entry '${name}' at byte ${local}`);
      const start = local + 30 + u16(local + 26) + u16(local + 28);
      if (start + entry.size > bytes.length) {
        fail(`entry '${name}' runs past the end of the file (${start + entry.size} > ${bytes.length} bytes): truncated`);
      }
      const data = bytes.subarray(start, start + entry.size);
      if (crc32(data) !== entry.crc) fail(`entry '${name}' fails its CRC-32 check: the file is corrupt`);
      return data;
    },
  };
}
