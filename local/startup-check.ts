import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { BatchGetCommand, type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import {
  EVAL_SORT_PREFIXES,
  EXPORT_JOBS_PARTITION,
  JUDGE_RUNS_PARTITION,
  keys,
  SUGGESTION_JOBS_PARTITION,
} from "../lib/common/adapters/table-keys.ts";
import { RUN_UPLOAD, TABLE } from "../lib/common/resources.ts";
import { continuationIn, continuationMessage } from "../lib/import/domain/continuation.ts";
import { decodeS3EventKey } from "../lib/import/domain/run-upload.ts";
import { importIdOf } from "../lib/import/usecases/import-run.ts";
import { SELECTION_PREFIX } from "../lib/suggest/adapters/suggestion-table.ts";
import { buildObjectCreatedEvent, createSequencer } from "./s3-events.ts";

type Item = Record<string, unknown>;

export interface StartupCheckDeps {
  readonly dynamodb: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly tableName: string;
  readonly bucket: string;
  readonly region: string;
  readonly queues: {
    readonly runUploads: QueueHandle;
    readonly exports: QueueHandle;
    readonly judge: QueueHandle;
    /** Absent: suggestion jobs are not checked. */
    readonly suggestions?: QueueHandle;
  };
  readonly log: (line: string) => void;
}

export interface QueueHandle {
  readonly url: string;
  /** The bodies of every message on the queue now, visible or in flight. */
  readonly bodies: () => readonly string[];
  /** For the S3 notifications this runtime sends in the bucket's stead. */
  readonly configurationId?: string;
}

export interface StartupRepair {
  readonly kind: "import" | "export" | "judge" | "suggestions";
  readonly id: string;
  readonly action: string;
}

/**
 * Finds work the table says is under way that no queued message will ever finish (a run left
 * `importing`, an export `queued` or `running`, a judge run's session `pending` or `running`, a
 * suggestion job's candidate not yet counted), as a crash of an earlier runtime could leave it,
 * and queues the message that finishes it. Runs are found from the run objects in the bucket,
 * exports, judge runs and suggestion jobs from their listings in the index, so the check never
 * scans the table. Returns what it repaired (each also logged).
 */
export async function repairStrandedWork(deps: StartupCheckDeps): Promise<StartupRepair[]> {
  const repairs: StartupRepair[] = [];
  const report = (repair: StartupRepair) => {
    repairs.push(repair);
    deps.log(`start-up check: ${repair.kind} ${repair.id} ${repair.action}`);
  };
  await repairImports(deps, report);
  await repairExports(deps, report);
  await repairJudgeRuns(deps, report);
  await repairSuggestionJobs(deps, report);
  return repairs;
}

async function repairImports(deps: StartupCheckDeps, report: (repair: StartupRepair) => void) {
  const runKeys = await runObjectKeys(deps);
  if (runKeys.length === 0) return;
  const queuedKeys = new Set<string>();
  for (const body of deps.queues.runUploads.bodies()) for (const key of keysIn(body)) queuedKeys.add(key);
  const records = await runRecords(deps, [...new Set(runKeys.map(runIdOf))]);
  const nextSequencer = createSequencer();
  for (const key of runKeys) {
    if (queuedKeys.has(key)) continue;
    const run = records.get(runIdOf(key));
    if (run && (run.state !== "importing" || run.source_key !== key)) continue;
    const runsPrefix = key.slice(0, key.length - runIdOf(key).length - RUN_UPLOAD.suffix.length);
    const prefixField = runsPrefix === RUN_UPLOAD.prefix ? {} : { runsPrefix };
    if (!run) {
      // Uploaded, but its notification never made it to the queue (a crash in between).
      if (runsPrefix !== RUN_UPLOAD.prefix) continue;
      await sendNotification(deps, key, nextSequencer());
      report({ kind: "import", id: runIdOf(key), action: "was uploaded but never queued: import queued" });
      continue;
    }
    const etag = String(run.etag ?? "");
    const importId = String(run.import_id ?? "");
    // A manual import's id is reproducible; a notification's sequencer is gone with its message.
    const manual = importIdOf({ bucket: deps.bucket, key, sequencer: "manual" }, etag) === importId;
    const checkpoint = run.checkpoint as { importId?: string; lines?: number } | undefined;
    if (manual && checkpoint?.importId === importId) {
      await send(
        deps.sqs,
        deps.queues.runUploads.url,
        continuationMessage({ bucket: deps.bucket, key, sequencer: "manual", importId, ...prefixField }),
      );
      report({
        kind: "import",
        id: runIdOf(key),
        action: `was left importing with nothing queued to finish it: continues from line ${(checkpoint.lines ?? 0) + 1}`,
      });
    } else if (manual) {
      await sendNotification(deps, key, "manual");
      report({
        kind: "import",
        id: runIdOf(key),
        action: "was left importing with nothing queued to finish it: the same import queued again",
      });
    } else {
      await sendNotification(deps, key, nextSequencer());
      report({
        kind: "import",
        id: runIdOf(key),
        action:
          "was left importing with nothing queued to finish it: imported again as a new upload " +
          "(the lines it had stored count as skipped)",
      });
    }
  }
}

async function repairExports(deps: StartupCheckDeps, report: (repair: StartupRepair) => void) {
  const queued = new Set(deps.queues.exports.bodies().map((body) => field(body, "export_id")));
  for (const job of await listing(deps, EXPORT_JOBS_PARTITION)) {
    if (job.status !== "queued" && job.status !== "running") continue;
    const id = String(job.id);
    if (queued.has(id)) continue;
    // One that saved a checkpoint goes on from it; its first message would now change nothing.
    const checkpoint = (job.checkpoint as { seq?: unknown } | undefined)?.seq;
    const message =
      typeof checkpoint === "number" ? { export_id: id, continue_from: checkpoint } : { export_id: id };
    await send(deps.sqs, deps.queues.exports.url, JSON.stringify(message));
    report({
      kind: "export",
      id,
      action:
        typeof checkpoint === "number"
          ? `was left ${job.status} with nothing queued to finish it: goes on from checkpoint ${checkpoint}`
          : `was left ${job.status} with nothing queued to finish it: queued again`,
    });
  }
}

async function repairJudgeRuns(deps: StartupCheckDeps, report: (repair: StartupRepair) => void) {
  const queued = new Set(
    deps.queues.judge.bodies().map((body) => `${field(body, "run_id")}\n${field(body, "session_id")}`),
  );
  for (const run of await listing(deps, JUDGE_RUNS_PARTITION)) {
    if (run.status !== "running") continue;
    const runId = String(run.id);
    const sessions = await queryAll(deps, {
      KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
      ExpressionAttributeNames: { "#pk": TABLE.partitionKey, "#sk": TABLE.sortKey },
      ExpressionAttributeValues: {
        ":pk": keys.judgeRun(runId)[TABLE.partitionKey],
        ":prefix": EVAL_SORT_PREFIXES.runSession,
      },
    });
    let requeued = 0;
    for (const session of sessions) {
      if (session.status !== "pending" && session.status !== "running") continue;
      const sessionId = String(session.session_id);
      if (queued.has(`${runId}\n${sessionId}`)) continue;
      await send(deps.sqs, deps.queues.judge.url, JSON.stringify({ run_id: runId, session_id: sessionId }));
      requeued++;
    }
    if (requeued > 0) {
      report({
        kind: "judge",
        id: runId,
        action: `was left running with ${requeued} session(s) that nothing queued would judge: queued again`,
      });
    }
  }
}

/**
 * A suggestion job still running (some selected candidate not counted) whose uncounted candidates
 * have no message on the suggestions queue: each gets its message again. A candidate's message
 * that was handled already changes nothing (its marker says it was counted), so this never counts
 * one twice.
 */
async function repairSuggestionJobs(deps: StartupCheckDeps, report: (repair: StartupRepair) => void) {
  const queue = deps.queues.suggestions;
  if (!queue) return;
  const queued = new Set(
    queue.bodies().map((body) => `${field(body, "job_id")}\n${field(body, "candidate_id")}`),
  );
  for (const job of await listing(deps, SUGGESTION_JOBS_PARTITION)) {
    if (job.completed_at || Number(job.finished ?? 0) >= Number(job.total ?? 0)) continue;
    const jobId = String(job.id);
    const inJob = (prefix: string, attribute: string) =>
      queryAll(deps, {
        KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
        ProjectionExpression: "#attribute",
        ExpressionAttributeNames: {
          "#pk": TABLE.partitionKey,
          "#sk": TABLE.sortKey,
          "#attribute": attribute,
        },
        ExpressionAttributeValues: {
          ":pk": keys.suggestionJob(jobId)[TABLE.partitionKey],
          ":prefix": prefix,
        },
      });
    const selection = (await inJob(SELECTION_PREFIX, "candidate_ids")).flatMap((part) =>
      Array.isArray(part.candidate_ids) ? part.candidate_ids.map(String) : [],
    );
    const counted = new Set(
      (await inJob("ITEM#", "candidate_id")).map((marker) => String(marker.candidate_id)),
    );
    const lost = selection.filter(
      (candidateId) => !counted.has(candidateId) && !queued.has(`${jobId}\n${candidateId}`),
    );
    for (const candidateId of lost) {
      await send(deps.sqs, queue.url, JSON.stringify({ job_id: jobId, candidate_id: candidateId }));
    }
    if (lost.length > 0) {
      report({
        kind: "suggestions",
        id: jobId,
        action: `was left running with ${lost.length} candidate(s) that nothing queued would suggest for: queued again`,
      });
    }
  }
}

/** Every `runs/…/<run_id>/sft_candidates.jsonl` in the bucket. */
async function runObjectKeys(deps: StartupCheckDeps): Promise<string[]> {
  const found: string[] = [];
  let token: string | undefined;
  do {
    const page = await deps.s3.send(
      new ListObjectsV2Command({ Bucket: deps.bucket, Prefix: RUN_UPLOAD.prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key?.endsWith(RUN_UPLOAD.suffix)) found.push(object.Key);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return found;
}

/** The folder holding the run file names the run, under `runs/` or a configured folder below it. */
function runIdOf(key: string): string {
  const folder = key.slice(0, key.length - RUN_UPLOAD.suffix.length);
  return folder.slice(folder.lastIndexOf("/") + 1);
}

async function runRecords(deps: StartupCheckDeps, runIds: string[]): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  for (let offset = 0; offset < runIds.length; offset += 100) {
    let requested: Record<string, unknown>[] = runIds.slice(offset, offset + 100).map((id) => keys.run(id));
    while (requested.length > 0) {
      const result = await deps.dynamodb.send(
        new BatchGetCommand({
          RequestItems: { [deps.tableName]: { Keys: requested, ConsistentRead: true } },
        }),
      );
      for (const item of result.Responses?.[deps.tableName] ?? []) found.set(String(item.run_id), item);
      requested = (result.UnprocessedKeys?.[deps.tableName]?.Keys as Record<string, unknown>[]) ?? [];
    }
  }
  return found;
}

/** The object keys a run-uploads message names: an S3 notification's, or a continuation's. */
function keysIn(body: string): string[] {
  try {
    const continuation = continuationIn(body);
    if (continuation) return [continuation.key];
    const event = JSON.parse(body) as { Records?: { s3?: { object?: { key?: string } } }[] };
    return (event.Records ?? []).flatMap((record) =>
      record.s3?.object?.key ? [decodeS3EventKey(record.s3.object.key)] : [],
    );
  } catch {
    return [];
  }
}

function field(body: string, name: string): string | undefined {
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)[name];
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

async function sendNotification(deps: StartupCheckDeps, key: string, sequencer: string) {
  const object = (
    await deps.s3.send(new ListObjectsV2Command({ Bucket: deps.bucket, Prefix: key, MaxKeys: 1 }))
  ).Contents?.find((o) => o.Key === key);
  const event = buildObjectCreatedEvent({
    bucket: deps.bucket,
    key,
    size: object?.Size ?? 0,
    eTag: object?.ETag ?? "",
    region: deps.region,
    sequencer,
    configurationId: deps.queues.runUploads.configurationId ?? "run-uploads-notification",
  });
  await send(deps.sqs, deps.queues.runUploads.url, JSON.stringify(event));
}

async function send(sqs: SQSClient, queueUrl: string, body: string) {
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
}

/** Every item of a listing partition of the eval-session index (export jobs, judge runs). */
function listing(deps: StartupCheckDeps, partition: string): Promise<Item[]> {
  const { evalSessions } = TABLE.indexes;
  return queryAll(deps, {
    IndexName: evalSessions.name,
    KeyConditionExpression: "#pk = :pk",
    ExpressionAttributeNames: { "#pk": evalSessions.partitionKey },
    ExpressionAttributeValues: { ":pk": partition },
  });
}

async function queryAll(
  deps: StartupCheckDeps,
  query: Omit<ConstructorParameters<typeof QueryCommand>[0], "TableName" | "ExclusiveStartKey">,
): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await deps.dynamodb.send(
      new QueryCommand({ ...query, TableName: deps.tableName, ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}
