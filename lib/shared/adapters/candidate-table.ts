import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { CandidateImportStore, StoredCandidateOrigin } from "../../import/usecases/import-run.ts";
import type { Candidate } from "../domain/candidate.ts";
import { deltaForNew, mergeDeltas } from "../domain/stats.ts";
import { TABLE } from "../resources.ts";
import { batchGetAll } from "./batch-get.ts";
import { counterUpdate } from "./counters.ts";
import { backoff, MAX_ATTEMPTS, retryThrottled } from "./retry.ts";
import { candidateIndexKeys, keys, randomCounterShard } from "./table-keys.ts";

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
        projection: "id, provenance.import_id, provenance.#line",
        names: { "#line": "line" },
      },
    );
    const found = new Map<string, StoredCandidateOrigin>();
    for (const item of items) {
      const provenance = item.provenance as { import_id?: string; line?: number } | undefined;
      found.set(item.id as string, { importId: provenance?.import_id, line: provenance?.line });
    }
    return { found, readUnits };
  }

  async insertNew(candidates: readonly Candidate[]) {
    const items = await Promise.all(candidates.map((candidate) => this.toItem(candidate)));
    const tooLarge = candidates.filter((_, i) => items[i] === null).map((c) => c.id);
    const pending = new Map(
      candidates.flatMap((candidate, i) => {
        const item = items[i];
        return item ? [[candidate.id, { candidate, item }] as const] : [];
      }),
    );
    const alreadyStored: string[] = [];
    let writeUnits = 0;
    for (let attempt = 0; pending.size > 0; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error("candidate insert kept conflicting");
      if (attempt > 0) await backoff(attempt);
      const batch = [...pending.values()];
      const delta = mergeDeltas(batch.map(({ candidate }) => deltaForNew(candidate)));
      try {
        const result = await retryThrottled(() =>
          this.dynamodb.send(
            new TransactWriteCommand({
              TransactItems: [
                ...batch.map(({ item }) => ({
                  Put: {
                    TableName: this.tableName,
                    Item: item,
                    ConditionExpression: "attribute_not_exists(#pk)",
                    ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
                  },
                })),
                { Update: counterUpdate(this.tableName, delta, randomCounterShard()) },
              ],
              ReturnConsumedCapacity: "TOTAL",
            }),
          ),
        );
        writeUnits += sumCapacity(result.ConsumedCapacity);
        return { inserted: batch.map(({ candidate }) => candidate.id), alreadyStored, tooLarge, writeUnits };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        batch.forEach(({ candidate }, i) => {
          if (reasons[i]?.Code === "ConditionalCheckFailed") {
            pending.delete(candidate.id);
            alreadyStored.push(candidate.id);
          }
        });
        // Other reasons (a conflicting transaction, throttling) retry the same batch after a pause.
      }
    }
    return { inserted: [], alreadyStored, tooLarge, writeUnits };
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

/** A candidate as a table item: its keys, its index keys for its status, and its fields. */
export function candidateItem(candidate: Candidate): Record<string, unknown> {
  return {
    ...candidate,
    ...keys.candidate(candidate.id),
    ...candidateIndexKeys(candidate, candidate.status),
    type: "candidate",
  };
}

function previewOf(candidate: Candidate): string {
  const last = candidate.prompt_messages?.at(-1);
  return last ? `${last.role}: ${last.content.slice(0, PREVIEW_CHARS)}` : "";
}

function sumCapacity(consumed: { CapacityUnits?: number }[] | undefined): number {
  return (consumed ?? []).reduce((total, c) => total + (c.CapacityUnits ?? 0), 0);
}
