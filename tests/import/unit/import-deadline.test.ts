import { describe, expect, it } from "vitest";
import type { ImportContinuation } from "../../../lib/import/domain/continuation.ts";
import type { ContinuationQueue } from "../../../lib/import/ports.ts";
import {
  type ImportOutcome,
  type ImportRunDeps,
  importRun,
  type RunUpload,
} from "../../../lib/import/usecases/import-run.ts";
import { MemoryCandidates, MemoryObjects, MemoryQuarantine, MemoryRuns } from "../../support/import-fakes.ts";

const BUCKET = "bucket";
const KEY = "runs/r1/sft_candidates.jsonl";
const UPLOAD: RunUpload = { bucket: BUCKET, key: KEY, sequencer: "01" };

/** 60 lines: good ones, a repeated id, bad JSON, a line with no prompt. */
function runText(): string {
  const lines: string[] = [];
  for (let i = 1; i <= 60; i += 1) {
    if (i % 11 === 0) lines.push("not json");
    else if (i % 13 === 0) lines.push(JSON.stringify({ id: `c${i}`, model_response: "a" }));
    else if (i % 17 === 0)
      lines.push(JSON.stringify({ id: "c1", prompt_messages: [], model_response: "again" }));
    else
      lines.push(
        JSON.stringify({
          id: `c${i}`,
          prompt_messages: [{ role: "user", content: `q${i}` }],
          model_response: "a",
        }),
      );
  }
  return lines.join("\n");
}

class Continuations implements ContinuationQueue {
  readonly sent: ImportContinuation[] = [];
  async handOn(continuation: ImportContinuation) {
    this.sent.push(continuation);
  }
}

/**
 * Objects that count the bytes each read hands out, and where each resumed read starts. The fake
 * hands out 7-byte chunks: a stop mid-chunk leaves at most 6 fetched bytes unread as lines.
 */
class CountingObjects extends MemoryObjects {
  served = 0;
  readonly resumedAt: number[] = [];
  override async open(bucket: string, key: string, from?: { offset: number; etag: string }) {
    const object = await super.open(bucket, key, from);
    if (from) this.resumedAt.push(from.offset);
    const counter = this;
    async function* counted() {
      for await (const chunk of object.body) {
        counter.served += chunk.length;
        yield chunk;
      }
    }
    return { ...object, body: counted() };
  }
}

function setup() {
  const objects = new CountingObjects();
  objects.put(BUCKET, KEY, runText());
  const candidates = new MemoryCandidates();
  const runs = new MemoryRuns();
  const quarantine = new MemoryQuarantine();
  const continuations = new Continuations();
  const deps: ImportRunDeps = {
    objects,
    candidates,
    runs,
    quarantine,
    continuations,
    now: () => new Date("2026-11-01T00:00:00Z"),
    limits: { chunkSize: 4, parallelChunks: 3 },
  };
  return { objects, candidates, runs, quarantine, continuations, deps };
}

/** A deadline that leaves time for `lines` lines per invocation: one tick per line read. */
const deadlineEvery = (lines: number) => {
  let ticks = 0;
  return { remainingMs: () => lines - ++ticks, reserveMs: 0.5 };
};

describe("an import with a deadline", () => {
  it("stops, checkpoints and hands on, and finishes across invocations with the counts of one run", async () => {
    const whole = setup();
    const uninterrupted = await importRun(whole.deps, UPLOAD);
    expect(uninterrupted.status).toBe("imported");
    if (uninterrupted.status !== "imported") return;

    const split = setup();
    const outcomes: ImportOutcome[] = [await importRun(split.deps, UPLOAD, { deadline: deadlineEvery(7) })];
    while (outcomes.at(-1)?.status === "handed_on") {
      const next = split.continuations.sent.at(-1) as ImportContinuation;
      outcomes.push(
        await importRun(split.deps, next, { deadline: deadlineEvery(7), continuationOf: next.importId }),
      );
    }
    const last = outcomes.at(-1);
    expect(last?.status).toBe("imported");
    if (last?.status !== "imported") return;

    expect(outcomes.length).toBe(9); // 60 lines, 7 per invocation
    expect(split.continuations.sent).toHaveLength(8);
    expect(last.summary.counts).toEqual(uninterrupted.summary.counts);
    expect(last.summary.sha256).toBe(uninterrupted.summary.sha256);
    expect(last.summary.invocations).toBe(9);
    expect(uninterrupted.summary.invocations).toBe(1);
    // Each invocation reads on from the checkpoint before it: no line is read twice.
    const checkpoints = split.continuations.sent.length;
    expect(split.objects.resumedAt).toHaveLength(checkpoints);
    expect(split.objects.resumedAt).toEqual([...split.objects.resumedAt].sort((a, b) => a - b));
    const size = Buffer.byteLength(runText());
    expect(split.objects.served).toBeGreaterThanOrEqual(size);
    expect(split.objects.served).toBeLessThan(size + 7 * checkpoints);
    expect([...split.candidates.stored.keys()].sort()).toEqual([...whole.candidates.stored.keys()].sort());
    // The quarantine is one object, the parts joined in line order and removed.
    const key = last.summary.quarantineKey as string;
    expect(split.quarantine.objects.get(key)).toEqual(whole.quarantine.objects.get(key));
    expect([...split.quarantine.objects.keys()]).toEqual([key]);
    expect(split.runs.records.get("r1")?.state).toBe("completed");
  });

  it("keeps the first line of a repeated id, whichever chunk reaches the table first", async () => {
    const { deps, candidates, quarantine } = setup();
    const outcome = await importRun(deps, UPLOAD);
    if (outcome.status !== "imported") throw new Error(outcome.status);
    expect(candidates.stored.get("c1")?.provenance.line).toBe(1);
    const repeats = (quarantine.objects.get(outcome.summary.quarantineKey as string) ?? []).filter(
      (e) => e.reason === "duplicate_id",
    );
    expect(repeats.map((e) => [e.line, e.detail])).toEqual([
      [17, "id already on line 1 of this run"],
      [34, "id already on line 1 of this run"],
      [51, "id already on line 1 of this run"],
    ]);
  });

  it("quarantines a record the store refuses, alone, so the counts still add up", async () => {
    const { deps, candidates, quarantine } = setup();
    candidates.refuse.add("c5");
    const outcome = await importRun(deps, UPLOAD);
    if (outcome.status !== "imported") throw new Error(outcome.status);
    const { counts } = outcome.summary;
    expect(counts.lines).toBe(counts.imported + counts.skipped + counts.quarantined);
    expect(candidates.stored.has("c5")).toBe(false);
    expect(candidates.stored.has("c6")).toBe(true);
    const entry = (quarantine.objects.get(outcome.summary.quarantineKey as string) ?? []).find(
      (e) => e.line === 5,
    );
    expect(entry).toMatchObject({
      reason: "invalid_field",
      detail: expect.stringMatching(/^the store refused the record: /),
    });
  });

  it("resumes from the checkpoint when the continuation is lost and the message redelivered", async () => {
    const { deps, continuations, objects } = setup();
    const first = await importRun(deps, UPLOAD, { deadline: deadlineEvery(25) });
    expect(first.status).toBe("handed_on");
    // The same notification again (say the continuation never arrived): it reads on from the checkpoint.
    const again = await importRun(deps, UPLOAD);
    expect(again.status).toBe("imported");
    if (again.status !== "imported") return;
    expect(again.summary.counts.lines).toBe(60);
    expect(
      again.summary.counts.imported + again.summary.counts.skipped + again.summary.counts.quarantined,
    ).toBe(60);
    expect(objects.resumedAt).toHaveLength(1);
    expect(objects.served).toBeLessThan(Buffer.byteLength(runText()) + 7);
    expect(continuations.sent).toHaveLength(1);
  });

  it("hands on only once when two invocations resume the same checkpoint", async () => {
    const { deps, continuations } = setup();
    await importRun(deps, UPLOAD, { deadline: deadlineEvery(10) });
    const next = continuations.sent[0] as ImportContinuation;
    const [a, b] = await Promise.all([
      importRun(deps, next, { deadline: deadlineEvery(10), continuationOf: next.importId }),
      importRun(deps, next, { deadline: deadlineEvery(10), continuationOf: next.importId }),
    ]);
    expect([a.status, b.status]).toEqual(["handed_on", "handed_on"]);
    // The duplicate's checkpoint was refused, so it sent nothing on.
    expect(continuations.sent).toHaveLength(2);
  });

  it("ignores a continuation of an import whose object has been replaced since", async () => {
    const { deps, continuations, objects, candidates } = setup();
    await importRun(deps, UPLOAD, { deadline: deadlineEvery(10) });
    objects.put(BUCKET, KEY, runText(), "etag-2");
    const stored = candidates.stored.size;
    const next = continuations.sent[0] as ImportContinuation;
    const outcome = await importRun(deps, next, {
      deadline: deadlineEvery(10),
      continuationOf: next.importId,
    });
    expect(outcome.status).toBe("superseded");
    expect(candidates.stored.size).toBe(stored);
  });

  it("refuses a deadline it could not honour, without a queue to hand on to", async () => {
    const { deps } = setup();
    const { continuations: _, ...withoutQueue } = deps;
    await expect(importRun(withoutQueue, UPLOAD, { deadline: deadlineEvery(5) })).rejects.toThrow(
      /continuation queue/,
    );
  });
});
