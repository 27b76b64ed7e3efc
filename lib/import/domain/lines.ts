export type RawLine = {
  readonly number: number;
  readonly text: string;
  /** The byte offset just past the line and its newline: where reading resumes after it. */
  readonly end: number;
} & ({ readonly tooLong?: undefined } | { readonly tooLong: { readonly bytes: number } });

export interface SplitOptions {
  readonly maxLineBytes: number;
  readonly keepBytes?: number;
  /** Sees exactly the bytes of the lines yielded so far, in order, e.g. to hash them. */
  readonly onBytes?: (bytes: Uint8Array) => void;
  /** Resuming mid-object: the number of lines before `source` and their bytes. */
  readonly linesBefore?: number;
  readonly offset?: number;
}

/**
 * Splits a byte stream into numbered UTF-8 lines (LF or CRLF; a last line without a newline
 * counts). A line longer than `maxLineBytes` is not accumulated: its first `keepBytes` are kept
 * for the record and the rest is skipped, so memory stays bounded whatever the input holds.
 * `onBytes` sees the bytes of each line as it is consumed (a consumer that stops after a line has
 * had exactly the bytes up to that line's `end` hashed), so a hash can be saved with a checkpoint.
 */
export async function* splitLines(
  source: AsyncIterable<Uint8Array>,
  options: SplitOptions,
): AsyncGenerator<RawLine> {
  const keep = options.keepBytes ?? 2_048;
  const decoder = new TextDecoder("utf-8");
  let parts: Buffer[] = [];
  let partsBytes = 0;
  let overflowBytes = 0;
  let number = options.linesBefore ?? 0;
  let offset = options.offset ?? 0;

  const finish = (): RawLine => {
    number += 1;
    let bytes = Buffer.concat(parts, partsBytes);
    parts = [];
    partsBytes = 0;
    if (overflowBytes > 0) {
      const total = bytes.length + overflowBytes;
      overflowBytes = 0;
      return {
        number,
        end: offset,
        text: decoder.decode(bytes.subarray(0, keep)),
        tooLong: { bytes: total },
      };
    }
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    return { number, end: offset, text: decoder.decode(bytes) };
  };

  const append = (piece: Buffer) => {
    if (overflowBytes > 0) {
      overflowBytes += piece.length;
      return;
    }
    if (partsBytes + piece.length > options.maxLineBytes) {
      const head = Buffer.concat([...parts, piece]).subarray(0, keep);
      overflowBytes = partsBytes + piece.length - head.length;
      parts = [Buffer.from(head)];
      partsBytes = head.length;
      return;
    }
    parts.push(piece);
    partsBytes += piece.length;
  };

  // Bytes are counted (and shown to `onBytes`) as they are consumed: a consumer that stops after
  // a line never resumes the generator, so the bytes after that line are never counted.
  const consume = (bytes: Buffer) => {
    offset += bytes.length;
    options.onBytes?.(bytes);
  };
  for await (const chunk of source) {
    const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (let nl = buffer.indexOf(0x0a, start); nl !== -1; nl = buffer.indexOf(0x0a, start)) {
      append(buffer.subarray(start, nl));
      consume(buffer.subarray(start, nl + 1));
      yield finish();
      start = nl + 1;
    }
    if (start < buffer.length) {
      // Copy the tail: the chunk's memory may be reused by the stream that produced it.
      const tail = Buffer.from(buffer.subarray(start));
      append(tail);
      consume(tail);
    }
  }
  if (partsBytes > 0 || overflowBytes > 0) yield finish();
}
