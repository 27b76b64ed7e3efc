import { describe, expect, it } from "vitest";
import { RecordingMetrics } from "../../../lib/common/metrics.ts";
import type { ImportContinuation } from "../../../lib/import/domain/continuation.ts";
import { createRunUploadRecordHandler } from "../../../lib/import/edge/run-upload-records.ts";
import { IMPORT_METRICS } from "../../../lib/import/metrics.ts";
import type { ContinuationQueue } from "../../../lib/import/ports.ts";
import {
  type ImportOutcome,
  type ImportRunDeps,
  importRun,
} from "../../../lib/import/usecases/import-run.ts";
import { s3NotificationBody, sqsRecord } from "../../support/events.ts";
import { MemoryCandidates, MemoryObjects, MemoryQuarantine, MemoryRuns } from "../../support/import-fakes.ts";
import { capturedLogLines } from "../../support/logs.ts";

const BUCKET = "bucket";
const KEY = "runs/r1/sft_candidates.jsonl";
const good = (id: string) =>
  JSON.stringify({ id, prompt_messages: [{ role: "user", content: `q ${id}` }], model_response: "a" });

/** 20 lines: 15 good, 2 not JSON, 2 blank, 1 repeating an id. */
const RUN = [
  ...Array.from({ length: 15 }, (_, i) => good(`c${i}`)),
  "not json",
  "{",
  "",
  "",
  good("c0"),
].join("\n");

class Continuations implements ContinuationQueue {
  readonly sent: ImportContinuation[] = [];
  async handOn(continuation: ImportContinuation) {
    this.sent.push(continuation);
  }
}

function setup() {
  const objects = new MemoryObjects();
  objects.put(BUCKET, KEY, RUN);
  const metrics = new RecordingMetrics();
  const continuations = new Continuations();
  const deps: ImportRunDeps = {
    objects,
    candidates: new MemoryCandidates(),
    runs: new MemoryRuns(),
    quarantine: new MemoryQuarantine(),
    continuations,
    metrics,
    now: () => new Date("2026-11-01T00:00:00Z"),
    limits: { chunkSize: 4, parallelChunks: 2 },
  };
  return { deps, metrics, continuations, objects };
}

describe("the import's metrics", () => {
  it("counts candidates imported and lines quarantined by reason", async () => {
    const { deps, metrics } = setup();
    await importRun(deps, { bucket: BUCKET, key: KEY, sequencer: "01" });
    expect(metrics.total(IMPORT_METRICS.imported)).toBe(15);
    expect(metrics.total(IMPORT_METRICS.quarantined)).toBe(5);
    expect(metrics.total(IMPORT_METRICS.quarantined, "invalid_json")).toBe(2);
    expect(metrics.total(IMPORT_METRICS.quarantined, "blank_line")).toBe(2);
    expect(metrics.total(IMPORT_METRICS.quarantined, "duplicate_id")).toBe(1);
    expect(metrics.total(IMPORT_METRICS.skipped)).toBe(0);
  });

  it("counts a re-upload's lines as skipped, not imported", async () => {
    const { deps, metrics } = setup();
    await importRun(deps, { bucket: BUCKET, key: KEY, sequencer: "01" });
    const again = await importRun(deps, { bucket: BUCKET, key: KEY, sequencer: "02" });
    if (again.status !== "imported") throw new Error(again.status);
    expect(again.summary.counts.imported).toBe(0);
    expect(metrics.total(IMPORT_METRICS.imported)).toBe(15);
    expect(metrics.total(IMPORT_METRICS.skipped)).toBe(again.summary.counts.skipped);
    expect(again.summary.counts.skipped).toBeGreaterThanOrEqual(15);
  });

  it("counts each invocation's share once when an import is handed on across invocations", async () => {
    const { deps, metrics, continuations } = setup();
    // Time for 6 lines per invocation: one tick per line read.
    const deadline = () => {
      let ticks = 0;
      return { remainingMs: () => 6 - ++ticks, reserveMs: 0.5 };
    };
    const outcomes: ImportOutcome[] = [
      await importRun(deps, { bucket: BUCKET, key: KEY, sequencer: "01" }, { deadline: deadline() }),
    ];
    while (outcomes.at(-1)?.status === "handed_on") {
      const next = continuations.sent.at(-1) as ImportContinuation;
      outcomes.push(await importRun(deps, next, { deadline: deadline(), continuationOf: next.importId }));
    }
    expect(outcomes.length).toBeGreaterThan(2);
    expect(outcomes.at(-1)?.status).toBe("imported");
    expect(metrics.total(IMPORT_METRICS.imported)).toBe(15);
    expect(metrics.total(IMPORT_METRICS.quarantined)).toBe(5);
    expect(metrics.total(IMPORT_METRICS.quarantined, "invalid_json")).toBe(2);
  });
});

describe("the import's log lines", () => {
  it("carry the message id from the start and the import id once it is known", async () => {
    const { deps } = setup();
    const handle = createRunUploadRecordHandler(deps);
    const record = sqsRecord(s3NotificationBody(BUCKET, KEY), { messageId: "msg-import-1" });
    const lines = await capturedLogLines(() => handle(record));
    const finished = lines.find((line) => line.includes("run import finished"));
    expect(finished).toBeDefined();
    expect(finished).toContain("correlation_id=msg-import-1");
    expect(finished).toContain("message_id=msg-import-1");
    expect(finished).toMatch(/import_id=[0-9a-f]{32}/);
    expect(finished).toContain("run_id=r1");
  });
});
