import { createHash } from "node:crypto";
import { BUCKET_PREFIXES } from "../../lib/common/resources.ts";
import {
  type EvalIndexMeta,
  type EvalSetListing,
  type EvalSetObject,
  evalSetVersion,
} from "../../lib/exports/domain/evalsets.ts";
import type { EvalSetStore } from "../../lib/exports/ports.ts";

/** Eval sets and their indexes in memory, keyed as in the bucket; counts the indexes built. */
export class MemoryEvalSetStore implements EvalSetStore {
  readonly objects = new Map<string, string>();
  readonly indexes = new Map<string, { meta: EvalIndexMeta; grams: Uint8Array }>();
  readonly indexesPut: string[] = [];

  /** An upload straight to the bucket, as `aws s3 cp` would make it. */
  upload(key: string, body: string): void {
    this.objects.set(key, body);
  }

  async list(name?: string): Promise<EvalSetListing[]> {
    const bySet = new Map<string, EvalSetObject[]>();
    for (const [key, body] of [...this.objects].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const [setName, ...rest] = key.slice(BUCKET_PREFIXES.evalsets.length).split("/");
      if (!setName || rest.length === 0 || !key.endsWith(".jsonl")) continue;
      if (name !== undefined && setName !== name) continue;
      const objects = bySet.get(setName) ?? [];
      objects.push({
        key,
        etag: createHash("md5").update(body).digest("hex"),
        bytes: Buffer.byteLength(body),
      });
      bySet.set(setName, objects);
    }
    return [...bySet].map(([setName, objects]) => ({
      name: setName,
      version: evalSetVersion(objects),
      bytes: objects.reduce((sum, object) => sum + object.bytes, 0),
      objects,
    }));
  }

  async *lines(key: string): AsyncIterable<string> {
    const body = this.objects.get(key);
    if (body === undefined) throw new Error(`no object ${key}`);
    const lines = body.split(/\r?\n/);
    if (lines.at(-1) === "") lines.pop();
    yield* lines;
  }

  async putItems(name: string, body: string): Promise<void> {
    this.objects.set(`${BUCKET_PREFIXES.evalsets}${name}/items.jsonl`, body);
  }

  async remove(name: string): Promise<number> {
    let removed = 0;
    for (const key of [...this.objects.keys()]) {
      if (key.startsWith(`${BUCKET_PREFIXES.evalsets}${name}/`)) {
        this.objects.delete(key);
        removed += 1;
      }
    }
    for (const key of [...this.indexes.keys()]) if (key.startsWith(`${name}/`)) this.indexes.delete(key);
    return removed;
  }

  async indexMeta(name: string, version: string, ngram: number) {
    return this.indexes.get(`${name}/${version}/${ngram}`)?.meta ?? null;
  }

  async indexGrams(name: string, version: string, ngram: number, bytes: number) {
    const grams = this.indexes.get(`${name}/${version}/${ngram}`)?.grams;
    if (!grams || grams.byteLength !== bytes) throw new Error(`no grams of ${bytes} bytes for ${name}`);
    // A copy, as a read from the bucket would be.
    return new Uint8Array(grams);
  }

  async putIndex(meta: EvalIndexMeta, grams: Uint8Array) {
    const key = `${meta.set}/${meta.version}/${meta.ngram}`;
    this.indexesPut.push(key);
    this.indexes.set(key, { meta: structuredClone(meta), grams: new Uint8Array(grams) });
  }
}
