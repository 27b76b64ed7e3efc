import { createSHA256, type IHasher } from "hash-wasm";
import type { FileReceipt } from "../domain/export-manifest.ts";
import type { StateReader, StateWriter } from "../domain/export-state.ts";
import type { ExportPartStore, UploadedPart } from "../ports.ts";

/** Parts 1–1,000 of a file are 8 MiB; each further thousand twice the size (S3 allows 10,000 parts). */
export const BASE_PART_BYTES = 8 * 1024 * 1024;
/** S3's smallest part but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

/**
 * The size of part `number` (1-based): a function of the number alone, so every part covers the
 * same bytes of the file whichever invocation uploads it — a duplicate invocation uploading a
 * part again uploads the same bytes. Doubling every thousand parts keeps a file of any size S3
 * takes (5 TB) within its 10,000 parts.
 */
export function partBytesOf(number: number, base = BASE_PART_BYTES): number {
  return base * 2 ** Math.min(9, Math.floor((number - 1) / 1000));
}

/** One file of an export as its checkpoint keeps it; the unuploaded tail is a state section. */
export interface FileMemory {
  readonly key: string;
  readonly uploadId: string | null;
  readonly parts: readonly UploadedPart[];
  readonly bytes: number;
  readonly lines: number;
  /** The sha256 so far (hash-wasm's saved state, base64); `null` before the first byte. */
  readonly hash: string | null;
}

/**
 * A file written line by line as an S3 multipart upload that can stop after any flush and go on
 * in another process: what it saves is the upload id, the parts uploaded (each covering fixed
 * bytes of the file), the bytes not yet a whole part, the running sha256, and the counts. A file
 * that never fills a part is put whole at the end.
 */
export class ResumableFile {
  private hasher: IHasher | null = null;
  private pending: string[] = [];
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | null = null;
  private uploadId: string | null;
  private parts: UploadedPart[];
  private bytes: number;
  private lines: number;
  /** An upload this process started: the one it may abort when it fails. */
  private startedHere = false;

  constructor(
    private readonly store: ExportPartStore,
    readonly key: string,
    private readonly contentType: string,
    private readonly basePartBytes = BASE_PART_BYTES,
    saved?: { memory: FileMemory; tail: Uint8Array },
  ) {
    this.uploadId = saved?.memory.uploadId ?? null;
    this.parts = [...(saved?.memory.parts ?? [])];
    this.bytes = saved?.memory.bytes ?? 0;
    this.lines = saved?.memory.lines ?? 0;
    this.nextPart = this.parts.length + 1;
    if (saved && saved.tail.byteLength > 0) {
      this.buffered.push(Buffer.from(saved.tail.buffer, saved.tail.byteOffset, saved.tail.byteLength));
      this.bufferedBytes = saved.tail.byteLength;
    }
    this.savedHash = saved?.memory.hash ?? null;
  }

  private savedHash: string | null;
  /** The number of the next part to upload. */
  private nextPart: number;

  add(line: string): void {
    this.pending.push(line);
    this.lines += 1;
  }

  /** Hashes the lines added since the last flush and uploads every part they complete. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure.error;
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(`${this.pending.join("\n")}\n`);
    this.pending = [];
    (await this.hash()).update(chunk);
    this.bytes += chunk.byteLength;
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.byteLength;
    for (;;) {
      const size = partBytesOf(this.nextPart, this.basePartBytes);
      if (this.bufferedBytes < size) break;
      await this.uploadNext(this.take(size));
    }
  }

  /** Waits for the parts in flight and writes what a later process needs to go on. */
  async save(state: StateWriter, section: string): Promise<FileMemory> {
    await this.flush();
    await this.settle();
    const tail = Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = tail.byteLength > 0 ? [tail] : [];
    state.bytes(section, tail);
    return {
      key: this.key,
      uploadId: this.uploadId,
      parts: [...this.parts].sort((a, b) => a.number - b.number),
      bytes: this.bytes,
      lines: this.lines,
      hash: this.hasher ? Buffer.from(this.hasher.save()).toString("base64") : this.savedHash,
    };
  }

  /** A file as `save` left it, its tail read from the state. */
  static restore(
    store: ExportPartStore,
    contentType: string,
    memory: FileMemory,
    state: StateReader,
    section: string,
    basePartBytes = BASE_PART_BYTES,
  ): ResumableFile {
    return new ResumableFile(store, memory.key, contentType, basePartBytes, {
      memory,
      tail: state.bytes(section),
    });
  }

  /** Uploads the last part and completes the object (or puts it whole, if it never filled a part). */
  async close(): Promise<FileReceipt> {
    await this.flush();
    await this.settle();
    const tail = Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = [];
    this.bufferedBytes = 0;
    if (this.uploadId === null) {
      await this.store.putBytes(this.key, [tail], this.contentType);
    } else {
      if (tail.byteLength > 0) await this.uploadNext(tail);
      await this.settle();
      const parts = [...this.parts].sort((a, b) => a.number - b.number);
      await this.store.completeUpload(this.key, this.uploadId, parts);
    }
    return {
      key: this.key,
      content_type: this.contentType,
      bytes: this.bytes,
      lines: this.lines,
      sha256: (await this.hash()).digest("hex"),
    };
  }

  /**
   * Drops an upload this process started. One resumed from a checkpoint is left as it is: the
   * checkpoint still names it, and a retry goes on with it.
   */
  async abort(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    if (this.startedHere && this.uploadId !== null) {
      await this.store.abortUpload(this.key, this.uploadId).catch(() => undefined);
    }
  }

  private async hash(): Promise<IHasher> {
    if (!this.hasher) {
      const hasher = await createSHA256();
      if (this.savedHash) hasher.load(Buffer.from(this.savedHash, "base64"));
      else hasher.init();
      this.hasher = hasher;
    }
    return this.hasher;
  }

  /** The first `size` buffered bytes, as one part. */
  private take(size: number): Buffer {
    const all = Buffer.concat(this.buffered, this.bufferedBytes);
    const part = all.subarray(0, size);
    const rest = all.subarray(size);
    this.buffered = rest.byteLength > 0 ? [Buffer.from(rest)] : [];
    this.bufferedBytes = rest.byteLength;
    return part;
  }

  /** Starts the part after those uploaded or in flight; waits while two are in flight. */
  private async uploadNext(body: Buffer): Promise<void> {
    if (this.uploadId === null) {
      this.uploadId = await this.store.startUpload(this.key, this.contentType);
      this.startedHere = true;
    }
    const uploadId = this.uploadId;
    const number = this.nextPart;
    this.nextPart += 1;
    const task: Promise<void> = this.store.uploadPart(this.key, uploadId, number, body).then(
      (etag) => {
        this.parts.push({ number, etag });
      },
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    const tracked = task.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    while (this.inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure.error;
  }

  private async settle(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure.error;
  }
}
