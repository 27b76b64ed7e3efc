export type RawLine =
  | { readonly number: number; readonly text: string; readonly tooLong?: undefined }
  | { readonly number: number; readonly text: string; readonly tooLong: { readonly bytes: number } };

/**
 * Splits a byte stream into numbered UTF-8 lines (LF or CRLF; a last line without a newline
 * counts). A line longer than `maxLineBytes` is not accumulated: its first `keepBytes` are kept
 * for the record and the rest is skipped, so memory stays bounded whatever the input holds.
 * `onBytes` sees every chunk, e.g. to hash the whole object in the same pass.
 */
export async function* splitLines(
  source: AsyncIterable<Uint8Array>,
  options: { maxLineBytes: number; keepBytes?: number; onBytes?: (chunk: Uint8Array) => void },
): AsyncGenerator<RawLine> {
  const keep = options.keepBytes ?? 2_048;
  const decoder = new TextDecoder("utf-8");
  let parts: Buffer[] = [];
  let partsBytes = 0;
  let overflowBytes = 0;
  let number = 0;

  const finish = (): RawLine => {
    number += 1;
    let bytes = Buffer.concat(parts, partsBytes);
    parts = [];
    partsBytes = 0;
    if (overflowBytes > 0) {
      const total = bytes.length + overflowBytes;
      overflowBytes = 0;
      return { number, text: decoder.decode(bytes.subarray(0, keep)), tooLong: { bytes: total } };
    }
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    return { number, text: decoder.decode(bytes) };
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

  for await (const chunk of source) {
    options.onBytes?.(chunk);
    const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (let nl = buffer.indexOf(0x0a, start); nl !== -1; nl = buffer.indexOf(0x0a, start)) {
      append(buffer.subarray(start, nl));
      yield finish();
      start = nl + 1;
    }
    // Copy the tail: the chunk's memory may be reused by the stream that produced it.
    if (start < buffer.length) append(Buffer.from(buffer.subarray(start)));
  }
  if (partsBytes > 0 || overflowBytes > 0) yield finish();
}
