import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";

export interface DynamoFaultPlan {
  /** Fail every Nth call of these operations with a throttling error (retried by the SDK). */
  readonly throttleEvery?: { readonly operations: readonly string[]; readonly n: number };
  /** Move half of every Nth BatchGetItem's keys to UnprocessedKeys. */
  readonly unprocessedEvery?: number;
}

export interface FaultCounts {
  throttled: number;
  unprocessedKeys: number;
}

/**
 * A fault layer in front of DynamoDB: middleware inside the SDK's retry loop that turns some
 * calls into throttling errors and some batch reads into partial results, as DynamoDB does under
 * load. Returns live counts of what was injected.
 */
export function injectDynamoFaults(client: DynamoDBDocumentClient, plan: DynamoFaultPlan): FaultCounts {
  const counts: FaultCounts = { throttled: 0, unprocessedKeys: 0 };
  const calls = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName ?? "").replace(/Command$/, "");
      const call = (calls.get(operation) ?? 0) + 1;
      calls.set(operation, call);
      const throttle = plan.throttleEvery;
      if (throttle?.operations.includes(operation) && call % throttle.n === 0) {
        counts.throttled += 1;
        throw Object.assign(new Error("Rate of requests exceeds the allowed throughput (injected)"), {
          name: "ThrottlingException",
          $fault: "client",
          $metadata: { httpStatusCode: 400 },
        });
      }
      const result = await next(args);
      if (operation === "BatchGetItem" && plan.unprocessedEvery && call % plan.unprocessedEvery === 0) {
        const output = result.output as {
          Responses?: Record<string, Record<string, unknown>[]>;
          UnprocessedKeys?: Record<string, { Keys?: Record<string, unknown>[] }>;
        };
        const input = args.input as { RequestItems: Record<string, { Keys: Record<string, unknown>[] }> };
        for (const [table, request] of Object.entries(input.RequestItems)) {
          const dropped = request.Keys.slice(0, Math.floor(request.Keys.length / 2));

          if (dropped.length === 0) continue;
          // At this step the request is still marshalled but the reply is already plain. Projections
          // may leave out the key attributes, so a candidate item is also recognised by its id.
          const plainKeys = dropped.map((key) => unmarshall(key as Record<string, AttributeValue>));
          const droppedPks = new Set(plainKeys.map((key) => key.pk as string));
          const responses = output.Responses?.[table] ?? [];
          output.Responses = {
            ...output.Responses,
            [table]: responses.filter(
              (item) => !droppedPks.has(item.pk as string) && !droppedPks.has(`CAND#${item.id as string}`),
            ),
          };
          output.UnprocessedKeys = { ...output.UnprocessedKeys, [table]: { Keys: plainKeys } };
          counts.unprocessedKeys += dropped.length;
        }
      }
      return result;
    },
    { step: "deserialize", name: "injectDynamoFaults", priority: "high" },
  );
  return counts;
}
