import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { CandidateImportStore, StoredCandidateOrigin } from "../../import/ports.ts";
import type { Candidate } from "../domain/candidate.ts";
import { type CountedCandidate, deltaForNew, mergeDeltas } from "../domain/stats.ts";
import { isSftPromptReady } from "../domain/trainable.ts";
import { TABLE } from "../resources.ts";
import { batchGetAll } from "./batch-get.ts";
import { candidateIndexKeys, keys } from "./table-keys.ts";
import { RETRY, transactConditionally } from "./transactions.ts";

/** Keeps bodies that do not fit in an item. */
export interface BodyStore {
  /** Stores `body` (JSON) for candidate `id` and returns its key. */
  putCandidateBody(id: string, body: string): Promise<string>;
}

/**
 * Items stop at 400 KB including attribute names and index copies; above this many serialized
 * bytes the prompt and answer move to the body store and the item keeps a pointer and a preview.
 */
export const MAX_INLINE_ITEM_BYTES = 300 * 1024;
const PREVIEW_CHARS = 2_000;

export class CandidateTable implements CandidateImportStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly bodies: BodyStore,
  ) {}

  async findExisting(ids: readonly string[]) {
    const { items, readUnits } = await batchGetAll(
      this.dynamodb,
      this.tableName,
      ids.map((id) => keys.candidate(id)),
      {
        consistent: true,
        projection: "id, provenance.import_id, provenance.#line, provenance.source_run_id, content_sha256",
        names: { "#line": "line" },
      },
    );
    const found = new Map<string, StoredCandidateOrigin>();
    for (const item of items) {
      const provenance = item.provenance as
        | { import_id?: string; line?: number; source_run_id?: string }
        | undefined;
      found.set(item.id as string, {
        importId: provenance?.import_id,
        line: provenance?.line,
        runId: provenance?.source_run_id,
        contentSha256: typeof item.content_sha256 === "string" ? item.content_sha256 : undefined,
      });
    }
    return { found, readUnits };
  }

  /**
   * Inserts new candidates, in as few transactions as DynamoDB's limits allow (99 items and the
   * counter shard; about 3 MB, well under the 4 MB a transaction may carry). When the store
   * refuses a transaction for what one item holds (a ValidationException, a value the SDK cannot
   * marshal), each candidate is tried alone, so only the culprit is refused (`refused`, with the
   * store's reason) and its neighbours are stored.
   */
  async insertNew(candidates: readonly Candidate[]): Promise<InsertOutcome> {
    const groups = transactionGroups(candidates);
    if (groups.length > 1) return merge(await Promise.all(groups.map((group) => this.insertNew(group))));
    try {
      return { ...(await this.insertTogether(candidates)), refused: [] };
    } catch (error) {
      if (!isRefusedByStore(error)) throw error;
      const [only] = candidates;
      if (candidates.length === 1 && only) {
        return {
          inserted: [],
          alreadyStored: [],
          tooLarge: [],
          refused: [{ id: only.id, detail: (error as Error).message }],
          writeUnits: 0,
        };
      }
      const alone: InsertOutcome[] = [];
      for (const candidate of candidates) alone.push(await this.insertNew([candidate]));
      return merge(alone);
    }
  }

  private async insertTogether(candidates: readonly Candidate[]) {
    const items = await Promise.all(candidates.map((candidate) => this.toItem(candidate)));
    const tooLarge = candidates.filter((_, i) => items[i] === null).map((c) => c.id);
    const pending = new Map(
      candidates.flatMap((candidate, i) => {
        const item = items[i];
        return item ? [[candidate.id, { candidate, item }] as const] : [];
      }),
    );
    const alreadyStored: string[] = [];
    if (pending.size === 0) return { inserted: [], alreadyStored, tooLarge, writeUnits: 0 };
    let batch = [...pending.values()];
    const outcome = await transactConditionally(this.dynamodb, this.tableName, {
      build: async () => {
        batch = [...pending.values()];
        return {
          items: batch.map(({ item }) => ({
            Put: {
              TableName: this.tableName,
              Item: item,
              ConditionExpression: "attribute_not_exists(#pk)",
              ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
            },
          })),
          counters: mergeDeltas(batch.map(({ item }) => deltaForNew(item as unknown as CountedCandidate))),
        };
      },
      // An id already stored leaves the batch; the rest is tried again, until none is left.
      onConditionFailed: (failed) => {
        for (const i of failed) {
          const id = batch[i]?.candidate.id;
          if (id === undefined) continue;
          pending.delete(id);
          alreadyStored.push(id);
        }
        return pending.size === 0 ? 0 : RETRY;
      },
    });
    return outcome.committed
      ? {
          inserted: batch.map(({ candidate }) => candidate.id) as string[],
          alreadyStored,
          tooLarge,
          writeUnits: outcome.writeUnits,
        }
      : { inserted: [], alreadyStored, tooLarge, writeUnits: 0 };
  }

  /** The item to store, with its body moved out when too big; `null` when even that does not fit. */
  private async toItem(candidate: Candidate): Promise<Record<string, unknown> | null> {
    const item = candidateItem(candidate);
    const size = Buffer.byteLength(JSON.stringify(item));
    if (size <= MAX_INLINE_ITEM_BYTES) return item;
    const body = JSON.stringify({
      prompt_messages: candidate.prompt_messages ?? null,
      model_response: candidate.model_response ?? null,
    });
    const bodyKey = await this.bodies.putCandidateBody(candidate.id, body);
    const { prompt_messages, model_response, ...rest } = item;
    const slim = {
      ...rest,
      prompt_preview: previewOf(candidate),
      model_response_preview: (candidate.model_response ?? "").slice(0, PREVIEW_CHARS),
      body_ref: { key: bodyKey, bytes: Buffer.byteLength(body) },
    };
    return Buffer.byteLength(JSON.stringify(slim)) <= MAX_INLINE_ITEM_BYTES ? slim : null;
  }
}

interface InsertOutcome {
  inserted: string[];
  alreadyStored: string[];
  tooLarge: string[];
  refused: { id: string; detail: string }[];
  writeUnits: number;
}

/** Items per transaction (one more is the counter shard) and the bytes they may add up to. */
const MAX_TRANSACTION_ITEMS = 99;
const MAX_TRANSACTION_BYTES = 3 * 1024 * 1024;

/** Candidates in groups that each fit one transaction; an item counts at most its inline size. */
function transactionGroups(candidates: readonly Candidate[]): Candidate[][] {
  const groups: Candidate[][] = [];
  let group: Candidate[] = [];
  let bytes = 0;
  for (const candidate of candidates) {
    const size = Math.min(approximateBytes(candidate), MAX_INLINE_ITEM_BYTES + 8 * 1024);
    if (group.length > 0 && (group.length >= MAX_TRANSACTION_ITEMS || bytes + size > MAX_TRANSACTION_BYTES)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(candidate);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * A cheap upper estimate of a candidate's item size, from its long texts (UTF-16 units × 3 bounds
 * their UTF-8 bytes) plus room for the other fields, so grouping never serialises on the hot path.
 */
function approximateBytes(candidate: Candidate): number {
  const texts = [
    candidate.model_response,
    candidate.corrected_response,
    ...(candidate.prompt_messages ?? []).map((message) => message.content),
  ];
  return texts.reduce(
    (sum: number, text) => sum + (typeof text === "string" ? text.length * 3 : 0),
    4 * 1024,
  );
}

function merge(outcomes: readonly InsertOutcome[]): InsertOutcome {
  return {
    inserted: outcomes.flatMap((o) => o.inserted),
    alreadyStored: outcomes.flatMap((o) => o.alreadyStored),
    tooLarge: outcomes.flatMap((o) => o.tooLarge),
    refused: outcomes.flatMap((o) => o.refused),
    writeUnits: outcomes.reduce((sum, o) => sum + o.writeUnits, 0),
  };
}

/**
 * The store refused what an item holds, not the moment: DynamoDB's ValidationException (a key or
 * size limit), or the SDK's marshaller refusing a value before sending (a number it cannot hold
 * exactly, nesting deeper than it can walk).
 */
function isRefusedByStore(error: unknown): boolean {
  if (error instanceof RangeError) return true;
  if (!(error instanceof Error)) return false;
  return (
    error.name === "ValidationException" ||
    /Number\.(MAX|MIN)_SAFE_INTEGER|Unsupported type passed/.test(error.message)
  );
}

/**
 * A candidate as a table item: its keys, its index keys for its status, its fields, and whether
 * its prompt can open an SFT example (`prompt_ready`, which `export_ready` counts by).
 */
export function candidateItem(candidate: Candidate): Record<string, unknown> {
  return {
    ...candidate,
    prompt_ready: isSftPromptReady(candidate.prompt_messages),
    ...keys.candidate(candidate.id),
    ...candidateIndexKeys(candidate, candidate.status),
    type: "candidate",
  };
}

function previewOf(candidate: Candidate): string {
  const last = candidate.prompt_messages?.at(-1);
  return last ? `${last.role}: ${last.content.slice(0, PREVIEW_CHARS)}` : "";
}
