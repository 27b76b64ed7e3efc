/**
 * The saved state of an export between two invocations, as one binary object: a JSON header (the
 * small things: positions, counts, upload ids) followed by named binary sections (the large ones:
 * fingerprint tables, MinHash signatures, the unuploaded tails of the files), each stored as it
 * lies in memory so that saving and loading a million fingerprints costs a copy, not a rebuild.
 *
 *   "FWXS" | version u32 | header length u32 | header JSON | section bytes…
 *
 * The header lists every section's name and length in order. The header and every section are
 * padded to 8 bytes, so a loaded section of 32-bit words is a view of the object's bytes, never
 * a second copy of a table that may hold millions of entries.
 */

const MAGIC = "FWXS";
const VERSION = 1;

interface SectionEntry {
  readonly name: string;
  readonly bytes: number;
}

/** Collects the sections of a state; `chunks` is what gets uploaded, nothing copied. */
export class StateWriter {
  private readonly sections: { entry: SectionEntry; data: Uint8Array }[] = [];

  bytes(name: string, data: Uint8Array): this {
    this.sections.push({ entry: { name, bytes: data.byteLength }, data });
    return this;
  }

  u32(name: string, data: Uint32Array): this {
    return this.bytes(name, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** The whole object: prefix, header (`header` and the section list), then the sections. */
  chunks(header: unknown): Uint8Array[] {
    const text = JSON.stringify({ header, sections: this.sections.map((s) => s.entry) });
    // JSON takes trailing spaces: the header ends on an 8-byte boundary.
    const json = Buffer.from(text.padEnd(text.length + padding(12 + Buffer.byteLength(text)), " "));
    const prefix = Buffer.alloc(12);
    prefix.write(MAGIC, 0, "latin1");
    prefix.writeUInt32BE(VERSION, 4);
    prefix.writeUInt32BE(json.byteLength, 8);
    return [
      prefix,
      json,
      ...this.sections.flatMap((s) => {
        const pad = padding(s.data.byteLength);
        return pad > 0 ? [s.data, new Uint8Array(pad)] : [s.data];
      }),
    ];
  }
}

/** Reads a state written by {@link StateWriter}; every section is copied out, aligned. */
export class StateReader {
  readonly header: unknown;
  private readonly offsets = new Map<string, { start: number; bytes: number }>();

  constructor(private readonly data: Uint8Array) {
    const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (view.byteLength < 12 || view.toString("latin1", 0, 4) !== MAGIC) {
      throw new Error("not an export state object");
    }
    const version = view.readUInt32BE(4);
    if (version !== VERSION) throw new Error(`export state version ${version} is not ${VERSION}`);
    const length = view.readUInt32BE(8);
    const parsed = JSON.parse(view.toString("utf8", 12, 12 + length)) as {
      header: unknown;
      sections: SectionEntry[];
    };
    this.header = parsed.header;
    let start = 12 + length;
    for (const { name, bytes } of parsed.sections) {
      this.offsets.set(name, { start, bytes });
      start += bytes + padding(bytes);
    }
    if (start !== view.byteLength) throw new Error("export state object is truncated or too long");
  }

  has(name: string): boolean {
    return this.offsets.has(name);
  }

  bytes(name: string): Uint8Array<ArrayBuffer> {
    const at = this.at(name);
    // A copy in a buffer of its own (a Buffer's `slice` would be a view at any offset).
    const copy = new Uint8Array(at.bytes);
    copy.set(this.data.subarray(at.start, at.start + at.bytes));
    return copy;
  }

  /** A view of the section's words where the object's bytes are aligned (they are as loaded), else a copy. */
  u32(name: string): Uint32Array<ArrayBuffer> {
    const at = this.at(name);
    const offset = this.data.byteOffset + at.start;
    if (offset % 4 === 0) return new Uint32Array(this.data.buffer as ArrayBuffer, offset, at.bytes / 4);
    const words = new Uint32Array(at.bytes / 4);
    new Uint8Array(words.buffer).set(this.data.subarray(at.start, at.start + at.bytes));
    return words;
  }

  private at(name: string) {
    const at = this.offsets.get(name);
    if (!at) throw new Error(`export state has no section ${name}`);
    return at;
  }
}

/** Bytes that bring `length` to a multiple of 8. */
const padding = (length: number) => (8 - (length % 8)) % 8;
