import { describe, expect, it } from "vitest";
import { StateReader, StateWriter } from "../../../lib/exports/domain/export-state.ts";
import { FingerprintSet } from "../../../lib/exports/domain/fingerprint-set.ts";
import {
  HASHES,
  minimums,
  NearDuplicateIndex,
  signature,
} from "../../../lib/exports/domain/near-duplicates.ts";

/** The object as S3 hands it back: one buffer, the chunks joined. */
const joined = (chunks: Uint8Array[]) => new Uint8Array(Buffer.concat(chunks));

const key = (n: number) => {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setUint32(0, n * 2_654_435_761);
  new DataView(bytes.buffer).setUint32(4, n + 1);
  return bytes;
};

describe("an export's state object", () => {
  it("gives back the header and every section as written, words as aligned views of the object", () => {
    const tail = new Uint8Array([1, 2, 3, 4, 5]);
    const words = Uint32Array.from([7, 0xffffffff, 42]);
    const state = new StateWriter().bytes("tail", tail).u32("words", words).bytes("empty", new Uint8Array());
    const object = joined(state.chunks({ seq: 3, note: "é" }));
    const read = new StateReader(object);
    expect(read.header).toEqual({ seq: 3, note: "é" });
    expect([...read.bytes("tail")]).toEqual([...tail]);
    expect([...read.bytes("empty")]).toEqual([]);
    const loaded = read.u32("words");
    expect([...loaded]).toEqual([...words]);
    // A view: no second copy of a table of millions of entries.
    expect(loaded.buffer).toBe(object.buffer);
    expect(() => read.u32("missing")).toThrow("no section missing");
    expect(() => new StateReader(object.subarray(0, object.byteLength - 8))).toThrow("truncated");
  });

  it("restores fingerprint and near-duplicate tables that answer as the saved ones did", () => {
    const set = new FingerprintSet();
    for (let n = 0; n < 40_000; n++) set.add(key(n), n);
    const near = new NearDuplicateIndex(0.8);
    const texts = Array.from(
      { length: 200 },
      (_, n) => `record ${n} ${"alpha beta gamma delta ".repeat(3)} ${n * 31}`,
    );
    for (const [n, text] of texts.entries()) near.add(signature(text), n);

    const state = new StateWriter();
    const saved = set.save();
    state.u32("keys", saved.keys).u32("values", saved.values);
    const nearSaved = near.save(state, "near");
    const read = new StateReader(joined(state.chunks({})));
    const restored = FingerprintSet.restore({
      keys: read.u32("keys"),
      values: read.u32("values"),
      used: saved.used,
    });
    const restoredNear = NearDuplicateIndex.restore(0.8, read, "near", nearSaved);

    expect(restored.size).toBe(40_000);
    for (const n of [0, 1, 39_999, 12_345]) expect(restored.get(key(n))).toBe(n);
    expect(restored.get(key(40_000))).toBeUndefined();
    // It goes on growing as the saved one would.
    for (let n = 40_000; n < 70_000; n++) expect(restored.add(key(n), n)).toBe(true);
    expect(restored.get(key(69_999))).toBe(69_999);

    const probe = signature(`${texts[17]} extra`);
    expect(restoredNear.find(probe)).toEqual(near.find(probe));
    expect(restoredNear.find(probe)).not.toBeNull();
    restoredNear.add(signature("something else entirely, nothing like the others"), 500);
    expect(restoredNear.find(signature("something else entirely, nothing like the others"))?.value).toBe(500);
  });

  it("restores a near-duplicate index of several blocks, each record found again by its signature", () => {
    // Random signatures: no two share a band word by more than chance.
    let seed = 7;
    const next = () => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed;
    };
    const signatures = Array.from({ length: 70_000 }, () => Uint32Array.from({ length: 16 }, next));
    const near = new NearDuplicateIndex(0.9);
    for (const [n, sig] of signatures.entries()) near.add(sig, n * 2);
    const state = new StateWriter();
    const memory = near.save(state, "near");
    const restored = NearDuplicateIndex.restore(
      0.9,
      new StateReader(joined(state.chunks({}))),
      "near",
      memory,
    );
    expect(restored.size).toBe(70_000);
    for (const n of [0, 65_535, 65_536, 69_999]) {
      expect(restored.find(signatures[n] as Uint32Array)).toEqual({ value: n * 2, similarity: 1 });
    }
    expect(restored.find(Uint32Array.from({ length: 16 }, next))).toBeNull();
  });

  it("takes up a checkpoint that kept every full minimum, as one saved since would be", () => {
    const texts = Array.from(
      { length: 50 },
      (_, n) => `note ${n} ${"one two three four five ".repeat(4)} ${n * 7}`,
    );
    const old = new Uint32Array(texts.length * HASHES);
    for (const [n, text] of texts.entries()) old.set(minimums(text), n * HASHES);
    const values = Uint32Array.from(texts.keys(), (n) => n + 100);
    const restored = NearDuplicateIndex.restoreUnpacked(0.8, old, values);
    const fresh = new NearDuplicateIndex(0.8);
    for (const [n, text] of texts.entries()) fresh.add(signature(text), n + 100);
    for (const probe of [`${texts[3]} more`, "nothing in common at all here", texts[49] as string]) {
      expect(restored.find(signature(probe))).toEqual(fresh.find(signature(probe)));
    }
    expect(restored.find(signature(texts[49] as string))?.value).toBe(149);
  });
});
