import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Candidate } from "../domain/candidate.ts";
import type { CorrectionStore } from "../usecases/ingest-correction.ts";
import { type BodyStore, CandidateTable } from "./candidate-table.ts";

/**
 * Corrections go in as new candidates through the same conditional insert as imports: one
 * TransactWriteItems with the Put (`attribute_not_exists` on the key) and the counter-shard
 * Update, so a record counts in stats the moment it exists and a second delivery counts nothing.
 * A cancelled transaction whose Put failed its condition is "already stored"; a transaction
 * cancelled for another reason (a concurrent update of the same counter shard) is retried by
 * the insert, and past its attempts the error is thrown for the message to be redelivered.
 */
export class CorrectionTable implements CorrectionStore {
  private readonly candidates: CandidateTable;

  constructor(dynamodb: DynamoDBDocumentClient, tableName: string, bodies: BodyStore) {
    this.candidates = new CandidateTable(dynamodb, tableName, bodies);
  }

  async insertIfAbsent(candidate: Candidate) {
    const result = await this.candidates.insertNew([candidate]);
    if (result.tooLarge.length > 0) return "too_large";
    if (result.alreadyStored.length > 0) return "already_stored";
    return "inserted";
  }
}
