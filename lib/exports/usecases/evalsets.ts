import { NotFoundError, ValidationError } from "../../common/domain/errors.ts";
import { BUCKET_PREFIXES } from "../../common/resources.ts";
import { DEFAULT_NGRAM, EvalIndex } from "../domain/decontamination.ts";
import { EvalNgramBuilder, EvalNgramTable } from "../domain/eval-ngrams.ts";
import {
  type EvalIndexMeta,
  type EvalSetListing,
  type EvalSetView,
  evalSetView,
  parseEvalLine,
} from "../domain/evalsets.ts";
import { EvalSetVersionGoneError } from "../domain/export-continuation.ts";
import type { EvalIndexSource, EvalSetStore } from "../ports.ts";

/** Lines not read as items that an index keeps, with why, for the listing. */
const SKIPPED_KEPT = 20;
/** The API refuses a registration with bad lines, naming at most this many. */
const ERRORS_SHOWN = 20;

export interface EvalSetDeps {
  readonly evalSets: EvalSetStore;
  readonly now?: () => Date;
}

/**
 * The index of one set version for an n-gram length: stored already, or built now from the set's
 * objects (streamed line by line; memory holds the grams, 12 bytes each, and the item ids) and
 * stored, so each version is indexed once for each length.
 */
export async function ensureEvalIndex(
  deps: EvalSetDeps,
  listing: EvalSetListing,
  ngram: number,
): Promise<{ meta: EvalIndexMeta; table?: EvalNgramTable }> {
  const stored = await deps.evalSets.indexMeta(listing.name, listing.version, ngram);
  if (stored) return { meta: stored };
  const builder = new EvalNgramBuilder(ngram);
  const skipped: { where: string; reason: string }[] = [];
  let skippedLines = 0;
  for (const object of listing.objects) {
    const file = object.key.slice(BUCKET_PREFIXES.evalsets.length + listing.name.length + 1);
    let number = 0;
    for await (const line of deps.evalSets.lines(object.key)) {
      number += 1;
      const where = `${file}:${number}`;
      const parsed = parseEvalLine(line, where);
      if ("blank" in parsed) continue;
      if ("error" in parsed) {
        skippedLines += 1;
        if (skipped.length < SKIPPED_KEPT) skipped.push({ where, reason: parsed.error });
        continue;
      }
      builder.addItem(parsed.item.id, parsed.item.texts);
    }
  }
  const table = builder.build();
  const meta: EvalIndexMeta = {
    index_version: 1,
    set: listing.name,
    version: listing.version,
    ngram,
    items: builder.items,
    indexed_items: builder.indexedItems,
    grams: table.size,
    short_lengths: table.shortLengths,
    bytes: listing.bytes,
    skipped_lines: skippedLines,
    skipped,
    built_at: (deps.now ?? (() => new Date()))().toISOString(),
    item_ids: table.itemIds,
  };
  await deps.evalSets.putIndex(meta, table.gramBytes());
  return { meta, table };
}

/**
 * What every export is checked against: each registered set's index for the n-gram length (built
 * now if its version has none yet), read back as its flat arrays. `null` when nothing is registered.
 */
export function storedEvalIndexes(deps: EvalSetDeps): EvalIndexSource {
  return {
    async load(ngram: number) {
      const listings = await deps.evalSets.list();
      if (listings.length === 0) return null;
      const index = new EvalIndex(ngram);
      for (const listing of listings) {
        const { meta, table: built } = await ensureEvalIndex(deps, listing, ngram);
        const table =
          built ??
          EvalNgramTable.fromBytes(
            ngram,
            meta.item_ids,
            meta.short_lengths,
            await deps.evalSets.indexGrams(listing.name, listing.version, ngram, meta.grams * 12),
          );
        index.addTable({ name: listing.name, version: listing.version, items: meta.items }, table);
      }
      return index;
    },
    async pinned(ngram, sets) {
      const index = new EvalIndex(ngram);
      for (const { name, version } of sets) {
        let meta = await deps.evalSets.indexMeta(name, version, ngram);
        let table: EvalNgramTable | undefined;
        if (!meta) {
          // The index was deleted: built again while the set is still at that version.
          const [listing] = await deps.evalSets.list(name);
          if (!listing || listing.version !== version) throw new EvalSetVersionGoneError(name, version);
          ({ meta, table } = await ensureEvalIndex(deps, listing, ngram));
        }
        const grams = table ? null : await pinnedGrams(deps, meta, ngram);
        index.addTable(
          { name, version, items: meta.items },
          table ?? EvalNgramTable.fromBytes(ngram, meta.item_ids, meta.short_lengths, grams as Uint8Array),
        );
      }
      return index;
    },
  };
}

/** A pinned version's grams; gone (removed since its meta was read) is the version gone. */
async function pinnedGrams(deps: EvalSetDeps, meta: EvalIndexMeta, ngram: number): Promise<Uint8Array> {
  try {
    return await deps.evalSets.indexGrams(meta.set, meta.version, ngram, meta.grams * 12);
  } catch (error) {
    if (["NoSuchKey", "NotFound"].includes((error as { name?: string }).name ?? "")) {
      throw new EvalSetVersionGoneError(meta.set, meta.version);
    }
    throw error;
  }
}

/**
 * `POST /api/evalsets/{name}`: the set becomes these items (JSONL, or JSON `{items}` turned into
 * JSONL), stored as `evalsets/<name>/items.jsonl`, and is indexed for the default n-gram length
 * before the answer. A line that is not an item refuses the whole upload (422, naming the lines).
 */
export async function registerEvalSet(
  deps: EvalSetDeps,
  name: string,
  upload: { jsonl: string } | { items: readonly Record<string, unknown>[] },
): Promise<EvalSetView> {
  const body =
    "jsonl" in upload ? upload.jsonl : `${upload.items.map((item) => JSON.stringify(item)).join("\n")}\n`;
  const errors: { loc: (string | number)[]; msg: string; type: string }[] = [];
  let items = 0;
  body.split("\n").forEach((line, i) => {
    const parsed = parseEvalLine(line, `line ${i + 1}`);
    if ("item" in parsed) items += 1;
    else if ("error" in parsed && errors.length < ERRORS_SHOWN) {
      errors.push({
        loc: "jsonl" in upload ? ["body", "line", i + 1] : ["body", "items", i],
        msg: parsed.error,
        type: "value_error",
      });
    }
  });
  if (errors.length > 0) throw new ValidationError(errors);
  if (items === 0) {
    throw new ValidationError([
      { loc: ["body"], msg: "an eval set needs at least one item", type: "missing" },
    ]);
  }
  await deps.evalSets.putItems(name, body);
  return indexEvalSet(deps, name);
}

/**
 * `POST /api/evalsets/{name}/index`: the set's current version indexed for the default n-gram
 * length (built now if it has no index yet; a set uploaded straight to `evalsets/<name>/` has none
 * until this or the next export), and the set with its counts.
 */
export async function indexEvalSet(deps: EvalSetDeps, name: string): Promise<EvalSetView> {
  const [listing] = await deps.evalSets.list(name);
  if (!listing) throw new NotFoundError(`Eval set ${name} not found`);
  const { meta } = await ensureEvalIndex(deps, listing, DEFAULT_NGRAM);
  return evalSetView(listing, meta, DEFAULT_NGRAM);
}

/**
 * A set with its size and version, and the counts of its index when its version has one
 * (`indexed: false` and `null` counts otherwise). Reading never builds an index: that is work for
 * registration, `indexEvalSet` or the export, not for a GET.
 */
export async function evalSetStatus(deps: EvalSetDeps, name: string): Promise<EvalSetView> {
  const [listing] = await deps.evalSets.list(name);
  if (!listing) throw new NotFoundError(`Eval set ${name} not found`);
  const meta = await deps.evalSets.indexMeta(listing.name, listing.version, DEFAULT_NGRAM);
  return evalSetView(listing, meta, DEFAULT_NGRAM);
}

/** `GET /api/evalsets`: every registered set, as `evalSetStatus`. */
export async function listEvalSets(deps: EvalSetDeps): Promise<{ evalsets: EvalSetView[] }> {
  const listings = await deps.evalSets.list();
  const views = await Promise.all(
    listings.map(async (listing) =>
      evalSetView(
        listing,
        await deps.evalSets.indexMeta(listing.name, listing.version, DEFAULT_NGRAM),
        DEFAULT_NGRAM,
      ),
    ),
  );
  return { evalsets: views };
}

/** `DELETE /api/evalsets/{name}`: the set's objects and indexes; later exports no longer check it. */
export async function deleteEvalSet(
  deps: EvalSetDeps,
  name: string,
): Promise<{ name: string; deleted: number }> {
  const deleted = await deps.evalSets.remove(name);
  if (deleted === 0) throw new NotFoundError(`Eval set ${name} not found`);
  return { name, deleted };
}
