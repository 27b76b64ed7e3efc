import { GetObjectCommand, NoSuchKey, type S3Client } from "@aws-sdk/client-s3";
import { NotFoundError, ValidationError } from "../domain/errors.ts";
import { type DownloadTerms, signedDownload } from "./signed-download.ts";

/** Bytes fetched per ranged GET while reading a quarantine file. */
export const QUARANTINE_RANGE_BYTES = 256 * 1024;
/** A quarantine line longer than this is skipped unread (an entry holds at most a few kilobytes). */
export const QUARANTINE_MAX_LINE_BYTES = 1024 * 1024;

/** One line of a JSON-lines object and where it sits: `start` its first byte, `end` the byte after its newline. */
export interface ObjectLine {
  /** The line without its newline; `null` when it was longer than the reader keeps. */
  readonly text: string | null;
  readonly start: number;
  readonly end: number;
}

/**
 * Reads a JSON-lines object from byte `from` as a series of ranged GETs pinned to the ETag of the
 * first, so memory holds one range and one line whatever the size of the object. `from` must be
 * the first byte of a line (0, or just after a newline): anything else is a 422 naming `cursorLocation`.
 * A missing object is a `NotFoundError`.
 */
export async function openObjectLines(
  s3: S3Client,
  bucket: string,
  key: string,
  from: number,
  cursorLocation: readonly (string | number)[],
  rangeBytes = QUARANTINE_RANGE_BYTES,
): Promise<{ readonly size: number; readonly lines: AsyncGenerator<ObjectLine> }> {
  const badCursor = () =>
    new ValidationError([
      { loc: cursorLocation, msg: "the cursor does not point at an entry", type: "value_error" },
    ]);
  // The first range starts one byte early so that a cursor is checked to follow a newline.
  const first = Math.max(0, from - 1);
  let head: Awaited<ReturnType<typeof getRange>>;
  try {
    head = await getRange(s3, bucket, key, first, first + rangeBytes - 1);
  } catch (error) {
    if (isMissing(error)) throw new NotFoundError(`The quarantine file ${key} does not exist`);
    if (isInvalidRange(error) && from === 0) return { size: 0, lines: (async function* () {})() };
    if (isInvalidRange(error)) throw badCursor();
    throw error;
  }
  const { size, etag } = head;
  if (from > size) throw badCursor();
  if (from > 0 && head.bytes[0] !== 0x0a) throw badCursor();

  async function* lines(): AsyncGenerator<ObjectLine> {
    const decoder = new TextDecoder();
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let tooLong = false;
    let lineStart = from;
    let position = from;
    let chunk = from > 0 ? head.bytes.subarray(1) : head.bytes;
    for (;;) {
      let cut = 0;
      for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, cut)) {
        const piece = chunk.subarray(cut, i);
        const end = position + i + 1;
        let text: string | null = null;
        if (!tooLong && pendingBytes + piece.byteLength <= QUARANTINE_MAX_LINE_BYTES) {
          text = decoder.decode(pending.length > 0 ? concat([...pending, piece]) : piece);
        }
        yield { text, start: lineStart, end };
        pending = [];
        pendingBytes = 0;
        tooLong = false;
        lineStart = end;
        cut = i + 1;
      }
      const rest = chunk.subarray(cut);
      if (!tooLong && pendingBytes + rest.byteLength <= QUARANTINE_MAX_LINE_BYTES) {
        pending.push(rest.slice());
        pendingBytes += rest.byteLength;
      } else {
        tooLong = true;
        pending = [];
        pendingBytes = 0;
      }
      position += chunk.byteLength;
      if (position >= size) break;
      chunk = (await getRange(s3, bucket, key, position, position + rangeBytes - 1, etag)).bytes;
      if (chunk.byteLength === 0) break;
    }
    // The last line may have no newline.
    if (lineStart < size) {
      yield { text: tooLong ? null : decoder.decode(concat(pending)), start: lineStart, end: size };
    }
  }
  return { size, lines: lines() };
}

async function getRange(
  s3: S3Client,
  bucket: string,
  key: string,
  start: number,
  end: number,
  etag?: string,
) {
  const object = await s3.send(
    new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      Range: `bytes=${start}-${end}`,
      ...(etag ? { IfMatch: etag } : {}),
    }),
  );
  const bytes = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
  const total = /\/(\d+)$/.exec(object.ContentRange ?? "")?.[1];
  return {
    bytes,
    size: total !== undefined ? Number(total) : start + bytes.byteLength,
    etag: object.ETag ?? "",
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

const isMissing = (error: unknown) =>
  error instanceof NoSuchKey || ["NoSuchKey", "NotFound"].includes((error as { name?: string }).name ?? "");

const isInvalidRange = (error: unknown) => (error as { name?: string }).name === "InvalidRange";

/** A signed, expiring link to one object, downloaded under `fileName`. */
export interface SignedObjectLink {
  readonly url: string;
  readonly file_name: string;
  readonly expires_in: number;
  readonly expires_at: string;
}

/** A presigned GET of `key` whose response names the file and its type. */
export async function signedObjectLink(
  s3: S3Client,
  bucket: string,
  key: string,
  download: DownloadTerms & { readonly now: Date },
): Promise<SignedObjectLink> {
  const url = await signedDownload(s3, bucket, key, download);
  return {
    url,
    file_name: download.fileName,
    expires_in: download.expiresInSeconds,
    expires_at: new Date(download.now.getTime() + download.expiresInSeconds * 1000).toISOString(),
  };
}
