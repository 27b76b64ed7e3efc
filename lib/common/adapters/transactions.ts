import { randomUUID } from "node:crypto";
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { CounterDelta } from "../domain/stats.ts";
import { counterUpdate } from "./counters.ts";
import { backoff, isThrottling, MAX_ATTEMPTS } from "./retry.ts";
import { randomCounterShard } from "./table-keys.ts";

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]>;

/** What one attempt writes: its items, and the counter changes that move with them. */
export interface TransactionAttempt {
  readonly items: TransactItems;
  /** Applied on one counter shard picked at random, in the same transaction; zeros are left out. */
  readonly counters?: CounterDelta;
}

/** Returned by `onConditionFailed` to try again (after what the next attempt builds has changed). */
export const RETRY: Readonly<{ retry: true }> = Object.freeze({ retry: true });

export interface ConditionalTransaction<T> {
  /** The attempt's items, built anew before each try (so a retry can read again first). */
  build(attempt: number): Promise<TransactionAttempt>;
  /**
   * What a failed condition means, given the indexes of the items whose condition failed: a value
   * that ends the call, an error thrown, or `RETRY`. Without it, the cancellation is thrown.
   */
  onConditionFailed?(failed: readonly number[]): T | typeof RETRY | Promise<T | typeof RETRY>;
  /** Sends a ClientRequestToken, so the SDK's retry of a request that did commit is not a conflict. */
  readonly idempotent?: boolean;
}

export type TransactionOutcome<T> =
  | { readonly committed: true; readonly writeUnits: number }
  | { readonly committed: false; readonly value: T };

/**
 * The one loop for "conditional transaction + counter shard": runs the transaction; a failed
 * condition goes to `onConditionFailed`; a cancellation for any other reason (another transaction
 * holding an item, often a counter shard) and throttling are retried with backoff, because the
 * conditions still decide. Gives up after `MAX_ATTEMPTS`, throwing the last error.
 */
export async function transactConditionally<T = never>(
  dynamodb: DynamoDBDocumentClient,
  tableName: string,
  transaction: ConditionalTransaction<T>,
): Promise<TransactionOutcome<T>> {
  for (let attempt = 0; ; attempt++) {
    const { items, counters } = await transaction.build(attempt);
    const counted = counters !== undefined && Object.values(counters).some((value) => value !== 0);
    try {
      const result = await dynamodb.send(
        new TransactWriteCommand({
          TransactItems: [
            ...items,
            ...(counted ? [{ Update: counterUpdate(tableName, counters, randomCounterShard()) }] : []),
          ],
          ReturnConsumedCapacity: "TOTAL",
          ...(transaction.idempotent ? { ClientRequestToken: randomUUID() } : {}),
        }),
      );
      const writeUnits = (result.ConsumedCapacity ?? []).reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
      return { committed: true, writeUnits };
    } catch (error) {
      const cancelled = error instanceof TransactionCanceledException;
      if (!cancelled && !isThrottling(error)) throw error;
      const failed = cancelled ? conditionFailures(error, items.length) : [];
      if (failed.length > 0) {
        if (!transaction.onConditionFailed) throw error;
        const value = await transaction.onConditionFailed(failed);
        if (value !== RETRY) return { committed: false, value: value as T };
      }
      if (attempt + 1 >= MAX_ATTEMPTS) throw error;
      await backoff(attempt);
    }
  }
}

/** The indexes, among the caller's items, whose condition failed (the counter update has none). */
function conditionFailures(error: TransactionCanceledException, itemCount: number): number[] {
  return (error.CancellationReasons ?? []).flatMap((reason, i) =>
    i < itemCount && reason.Code === "ConditionalCheckFailed" ? [i] : [],
  );
}
