import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { type BodyStore, CandidateTable } from "../../common/adapters/candidate-table.ts";
import { keys } from "../../common/adapters/table-keys.ts";
import type { Candidate } from "../../common/domain/candidate.ts";
import type { CorrectionStore, StoredCorrection } from "../ports.ts";
import { CorrectionUnstorableError } from "../usecases/ingest-correction.ts";

type Stored = Awaited<ReturnType<CorrectionStore["insertIfAbsent"]>>;

interface Waiting {
  readonly candidate: Candidate;
  readonly resolve: (stored: Stored) => void;
  readonly reject: (error: unknown) => void;
}

/** Records per shared transaction, and their serialized size, well inside the 100-item / 4 MB limits. */
const MAX_GROUP_RECORDS = 25;
const MAX_GROUP_BYTES = 2 * 1024 * 1024;

/**
 * Corrections go in as new candidates through the same conditional insert as imports: one
 * TransactWriteItems with the Put (`attribute_not_exists` on the key) and the counter-shard
 * Update, so a record counts in stats the moment it exists and a second delivery counts nothing.
 * A Put that fails its condition is "already stored"; a transaction cancelled for another reason
 * (a concurrent update of the same counter shard) is retried, and past its attempts the error is
 * thrown for the message to be redelivered.
 *
 * The records of one SQS batch arrive together (the batch processor handles them concurrently),
 * so the records handed in during one turn of the event loop share one transaction and one
 * counter update. If a shared transaction fails, each record is written again on its own, so a
 * record that cannot be written fails alone and never takes its neighbours with it.
 */
export class CorrectionTable implements CorrectionStore {
  private readonly candidates: CandidateTable;
  private waiting: Waiting[] = [];

  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
    bodies: BodyStore,
  ) {
    this.candidates = new CandidateTable(dynamodb, tableName, bodies);
  }

  async storedCorrection(id: string): Promise<StoredCorrection | undefined> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.candidate(id),
        ConsistentRead: true,
        ProjectionExpression: "id, correction_sha256, #source, #provenance.#key",
        ExpressionAttributeNames: {
          "#source": "source",
          "#provenance": "provenance",
          "#key": "idempotency_key",
        },
      }),
    );
    if (!Item) return undefined;
    const text = (value: unknown) => (typeof value === "string" ? value : null);
    return {
      fingerprint: text(Item.correction_sha256),
      source: text(Item.source),
      idempotencyKey: text((Item.provenance as Record<string, unknown> | undefined)?.idempotency_key),
    };
  }

  insertIfAbsent(candidate: Candidate): Promise<Stored> {
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => void this.flush());
      this.waiting.push({ candidate, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const waiting = this.waiting;
    this.waiting = [];
    // A transaction may not touch one item twice: a repeated id shares the first one's write.
    const byId = new Map<string, Pending>();
    for (const entry of waiting) {
      const pending = byId.get(entry.candidate.id);
      if (pending) pending.repeats.push(entry);
      else byId.set(entry.candidate.id, { first: entry, repeats: [] });
    }
    await Promise.all(groups([...byId.values()]).map((group) => this.write(group)));
  }

  private async write(group: Pending[]): Promise<void> {
    try {
      const result = await this.candidates.insertNew(group.map(({ first }) => first.candidate));
      const tooLarge = new Set(result.tooLarge);
      const alreadyStored = new Set(result.alreadyStored);
      const refused = new Map(result.refused.map(({ id, detail }) => [id, detail]));
      for (const { first, repeats } of group) {
        const { id } = first.candidate;
        const refusal = refused.get(id);
        if (refusal !== undefined) {
          const error = new CorrectionUnstorableError(`the store refused the record: ${refusal}`);
          for (const entry of [first, ...repeats]) entry.reject(error);
          continue;
        }
        const stored = tooLarge.has(id) ? "too_large" : alreadyStored.has(id) ? "already_stored" : "inserted";
        first.resolve(stored);
        for (const repeat of repeats) repeat.resolve(stored === "too_large" ? "too_large" : "already_stored");
      }
    } catch (error) {
      const [only] = group;
      if (group.length === 1 && only) {
        for (const entry of [only.first, ...only.repeats]) entry.reject(error);
      } else await Promise.all(group.map((pending) => this.write([pending])));
    }
  }
}

/** A record to write, with any later hand-ins of the same id. */
interface Pending {
  readonly first: Waiting;
  readonly repeats: Waiting[];
}

function groups(entries: Pending[]): Pending[][] {
  const result: Pending[][] = [];
  let group: Pending[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = Buffer.byteLength(JSON.stringify(entry.first.candidate));
    if (group.length >= MAX_GROUP_RECORDS || (group.length > 0 && bytes + size > MAX_GROUP_BYTES)) {
      result.push(group);
      group = [];
      bytes = 0;
    }
    group.push(entry);
    bytes += size;
  }
  if (group.length > 0) result.push(group);
  return result;
}
