import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  NotConfiguredError,
  NotFoundError,
  TimeLimitError,
  TooLargeForRequestError,
  ValidationError,
} from "../../../lib/common/domain/errors.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { createExportRecordHandler } from "../../../lib/exports/edge/export-records.ts";
import {
  avocetSftExport,
  createExport,
  exportStatus,
  listExports,
  runExportJob,
} from "../../../lib/exports/usecases/exports.ts";
import { sqsRecord } from "../../support/events.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { expectationFor, reviewed, seededMix } from "../../support/export-fixtures.ts";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const lines = (text: string) => text.split("\n").filter(Boolean);
const parse = (text: string) => lines(text).map((line) => JSON.parse(line));

async function exported(
  setup: ReturnType<typeof memoryExportDeps>,
  request: unknown,
  requester = "ana@example.com",
) {
  const job = await createExport(setup.deps, ExportRequest.parse(request), requester);
  const manifest = (await runExportJob(setup.deps, job.id)) as ExportManifest;
  const file = (name: string) => setup.objects.body(`exports/${job.id}/${name}`);
  return {
    job,
    manifest,
    dataset: file("dataset.jsonl"),
    quarantine: file("quarantine.jsonl"),
    records: file("records.jsonl"),
    stored: JSON.parse(file("manifest.json")) as ExportManifest,
  };
}

describe("an export job", () => {
  const request = { format: "trl-dpo", filters: { exclude_categories: ["scoring_artifact"] } };

  it("is queued with 202's body and one message, then written with its manifest", async () => {
    const mix = seededMix();
    const setup = memoryExportDeps(mix.map((s) => s.candidate));
    // Every status read, each candidate that cannot pass listed in the quarantine.
    const everyStatus = { ...request, options: { quarantine_unselected: true } };
    const { job, manifest, dataset, quarantine, records, stored } = await exported(setup, everyStatus);

    expect(job).toMatchObject({ id: "export-001", status: "queued", format: "trl-dpo", origin: "api" });
    expect(setup.queue.sent).toEqual([{ export_id: "export-001" }]);

    const expectedIn = mix
      .filter((s) => expectationFor(s, "trl-dpo") === "exported")
      .map((s) => s.candidate.id);
    expect(parse(records).map((r) => r.candidate_id)).toEqual(expectedIn);
    expect(parse(records).map((r) => r.line)).toEqual(expectedIn.map((_, i) => i + 1));
    expect(parse(dataset).map((line) => line.id)).toEqual(parse(records).map((r) => r.record_id));
    expect(parse(quarantine).map((entry) => [entry.candidate_id, entry.reason])).toEqual(
      mix
        .filter((s) => expectationFor(s, "trl-dpo") !== "exported")
        .map((s) => {
          const expectation = expectationFor(s, "trl-dpo");
          return [s.candidate.id, typeof expectation === "string" ? expectation : expectation.reason];
        }),
    );

    expect(manifest).toEqual(stored);
    expect(manifest.files.dataset).toEqual({
      key: "exports/export-001/dataset.jsonl",
      content_type: "application/x-ndjson",
      bytes: Buffer.byteLength(dataset),
      lines: expectedIn.length,
      sha256: sha256(dataset),
    });
    expect(manifest.files.quarantine.sha256).toBe(sha256(quarantine));
    expect(manifest.files.records.sha256).toBe(sha256(records));
    expect(manifest.counts).toMatchObject({
      considered: mix.length,
      considered_by_status: { needs_review: 1, approved: mix.length - 3, discarded: 1, model_rejected: 1 },
      exported: expectedIn.length,
      lines: expectedIn.length,
      quarantined: mix.length - expectedIn.length,
      by_reason: {
        status_disallowed: 3,
        category_disallowed: 1,
        missing_provenance: 2,
        schema_violation: 1,
        empty_content: 3,
        self_pairing: 1,
        trainer_rule: 2,
        duplicate_content: 1,
      },
      by_rule: { first_turn_not_user: 1, unsupported_role: 1, bedrock_reserved_string: 0 },
    });
    expect(manifest).toMatchObject({
      export_id: "export-001",
      format: "trl-dpo",
      code_version: "0.1.0+abcdef123456",
      requested_by: "ana@example.com",
      request: { format: "trl-dpo", options: { quarantine_unselected: true } },
      filters: {
        exclude_categories: ["scoring_artifact"],
        statuses: ["needs_review", "approved", "discarded", "model_rejected"],
      },
      // TRL's DPO trainer has no minimum, and Bedrock does not read this format.
      warnings: [],
    });
    expect(manifest.requested_at < manifest.started_at && manifest.started_at < manifest.finished_at).toBe(
      true,
    );

    const done = await exportStatus(setup.deps, job.id);
    expect(done).toMatchObject({ status: "succeeded", attempts: 1, error: null, manifest });
  });

  it("reads only the approved partition by default, and counts the other statuses from the counters", async () => {
    const mix = seededMix();
    const setup = memoryExportDeps(mix.map((s) => s.candidate));
    const { manifest, quarantine, dataset } = await exported(setup, request);
    const everyStatus = await exported(setup, { ...request, options: { quarantine_unselected: true } });

    expect(setup.source.selections.map((s) => s.statuses)).toEqual([
      ["approved"],
      ["needs_review", "approved", "discarded", "model_rejected"],
    ]);
    // The dataset is the same; the quarantine no longer lists what could never pass.
    expect(dataset).toBe(everyStatus.dataset);
    expect(parse(quarantine).map((entry) => entry.candidate_id)).toEqual(
      parse(everyStatus.quarantine)
        .filter((entry) => entry.reason !== "status_disallowed")
        .map((entry) => entry.candidate_id),
    );
    expect(manifest.filters.statuses).toEqual(["approved"]);
    expect(manifest.counts).toMatchObject({
      considered: mix.length - 3,
      considered_by_status: { needs_review: 0, approved: mix.length - 3, discarded: 0, model_rejected: 0 },
      by_reason: { status_disallowed: 0 },
      not_read_by_status: { needs_review: 1, discarded: 1, model_rejected: 1 },
    });
    expect(everyStatus.manifest.counts).not.toHaveProperty("not_read_by_status");

    // Statuses named in the filters are read as asked, and those left out counted.
    const named = await exported(setup, { ...request, filters: { statuses: ["approved", "discarded"] } });
    expect(setup.source.selections.at(-1)?.statuses).toEqual(["approved", "discarded"]);
    expect(named.manifest.counts).toMatchObject({
      by_reason: { status_disallowed: 1 },
      not_read_by_status: { needs_review: 1, model_rejected: 1 },
    });
  });

  it("writes the same bytes for the same request over the same data", async () => {
    const setup = memoryExportDeps(seededMix().map((s) => s.candidate));
    const first = await exported(setup, request);
    const second = await exported(setup, request, "someone-else");
    expect(second.job.id).not.toBe(first.job.id);
    expect(second.dataset).toBe(first.dataset);
    expect(second.quarantine).toBe(first.quarantine);
    expect(second.records).toBe(first.records);
    expect(second.manifest.files.dataset.sha256).toBe(first.manifest.files.dataset.sha256);
    expect(second.manifest.counts).toEqual(first.manifest.counts);
  });

  it("reads what the filters select, and stops reading once the limit is written", async () => {
    const candidates = Array.from({ length: 12 }, (_, i) => reviewed(`limited-${i}`));
    const setup = memoryExportDeps(candidates);
    const { manifest, dataset } = await exported(setup, {
      format: "openai-sft",
      filters: {
        statuses: ["approved"],
        model: "model-a",
        from: "2026-04-07T15:00:00+00:00",
        to: "2026-04-08T00:00:00Z",
        limit: 5,
      },
    });
    expect(setup.source.selections).toEqual([
      {
        statuses: ["approved"],
        filters: { model: "model-a" },
        range: { from: "2026-04-07T15:00:00.000Z", to: "2026-04-08T00:00:00.000Z" },
      },
    ]);
    expect(lines(dataset)).toHaveLength(5);
    expect(manifest.counts).toMatchObject({ considered: 5, exported: 5, quarantined: 0 });
    expect(manifest.warnings).toEqual([
      expect.objectContaining({ trainer: "OpenAI fine-tuning", minimum: 10, actual: 5 }),
    ]);
  });

  it("writes two KTO lines per candidate, apart, and counts both", async () => {
    const candidates = Array.from({ length: 70 }, (_, i) => reviewed(`kto-${i}`));
    const setup = memoryExportDeps(candidates);
    const { manifest, dataset, records } = await exported(setup, { format: "trl-kto" });
    const written = parse(dataset);
    const index = parse(records);
    expect(manifest.counts).toMatchObject({ exported: 70, lines: 140 });
    expect(written.map((line) => line.label)).toEqual(written.map((_, i) => i % 2 === 1));
    // The record index follows the lines as written: each line's id, and the candidate it came from.
    expect(index.map((r) => r.line)).toEqual(written.map((_, i) => i + 1));
    expect(index.map((r) => r.record_id)).toEqual(written.map((line) => line.id));
    written.forEach((line, i) => {
      const candidate = String(index[i]?.candidate_id).replace("cand-", "");
      expect(line.prompt.at(-1).content).toBe(`Question about ${candidate}?`);
    });
    // Candidate k's undesirable line is still line 2k + 1; no two neighbours share a prompt.
    expect(index.filter((_, i) => i % 2 === 0).map((r) => r.candidate_id)).toEqual(
      candidates.map((c) => c.id),
    );
    for (let i = 1; i < index.length; i += 1) {
      expect(index[i]?.candidate_id).not.toBe(index[i - 1]?.candidate_id);
    }
    expect(manifest.warnings).toEqual([]);
  });

  it("says so in the manifest when too few prompts leave KTO's KL pairs sharing one", async () => {
    const setup = memoryExportDeps([reviewed("kto-a"), reviewed("kto-b")]);
    const { manifest } = await exported(setup, { format: "trl-kto" });
    expect(manifest.counts).toMatchObject({ exported: 2, lines: 4 });
    expect(manifest.warnings).toEqual([
      expect.objectContaining({ code: "kto_kl_shared_prompt", trainer: "TRL KTOTrainer", actual: 2 }),
    ]);
  });

  it("writes RAG documents with Bedrock Knowledge Bases sidecars beside the dataset", async () => {
    const setup = memoryExportDeps([reviewed("doc-1"), reviewed("doc-2")]);
    const { job, manifest, dataset } = await exported(setup, { format: "rag" });
    const [first] = parse(dataset);
    const prefix = `exports/${job.id}/documents/`;
    expect(manifest.files.documents).toEqual({ prefix, count: 2 });
    expect(setup.objects.body(`${prefix}${first.id}.txt`)).toBe("Right answer about doc-1.");
    expect(JSON.parse(setup.objects.body(`${prefix}${first.id}.txt.metadata.json`))).toEqual({
      metadataAttributes: expect.objectContaining({ record_id: first.id, candidate_id: "cand-doc-1" }),
    });

    const plain = memoryExportDeps([reviewed("doc-3")]);
    const without = await exported(plain, { format: "rag", options: { bedrock_kb_sidecars: false } });
    expect(without.manifest.files.documents).toBeNull();
    expect([...plain.objects.objects.keys()].some((key) => key.includes("/documents/"))).toBe(false);
  });

  it("keeps Knowledge Bases documents under exports/kb/<id>/ on request: nothing else of any export there", async () => {
    const mix = seededMix().map((s) => s.candidate);
    const setup = memoryExportDeps(mix);
    const { job, manifest, quarantine } = await exported(setup, {
      format: "rag",
      options: { bedrock_kb_prefix: "separate" },
    });
    const prefix = `exports/kb/${job.id}/`;
    expect(manifest.files.documents).toEqual({ prefix, count: manifest.counts.exported });
    const keys = [...setup.objects.objects.keys()];
    const underKb = keys.filter((key) => key.startsWith("exports/kb/"));
    expect(underKb).toHaveLength(2 * manifest.counts.exported);
    for (const key of underKb)
      expect(key).toMatch(/^exports\/kb\/[^/]+\/[0-9a-f]{32}\.txt(\.metadata\.json)?$/);
    // Everything else of the export sits under its own prefix, which the kb prefix does not share.
    expect(
      keys
        .filter((key) => !key.startsWith("exports/kb/"))
        .every((key) => key.startsWith(`exports/${job.id}/`)),
    ).toBe(true);
    expect(`exports/${job.id}/`.startsWith("exports/kb/")).toBe(false);
    // No quarantined candidate's correction is among the documents.
    const indexed = underKb.filter((key) => key.endsWith(".txt")).map((key) => setup.objects.body(key));
    const quarantinedIds = new Set(parse(quarantine).map((entry) => entry.candidate_id));
    expect(quarantinedIds.size).toBeGreaterThan(0);
    for (const candidate of mix) {
      const correction = candidate.corrected_response;
      if (quarantinedIds.has(candidate.id) && typeof correction === "string" && correction.trim() !== "") {
        const kept = mix.some((c) => !quarantinedIds.has(c.id) && c.corrected_response === correction);
        if (!kept) expect(indexed).not.toContain(correction);
      }
    }
  });

  it("says in the manifest when a RAG export's documents expire, and a Knowledge Base's sync would drop them", async () => {
    const setup = memoryExportDeps([reviewed("doc-x")]);
    const { manifest } = await exported(setup, { format: "rag" });
    const expiry = manifest.warnings.find((w) => w.code === "documents_expire");
    expect(expiry).toBeDefined();
    if (expiry?.code !== "documents_expire") return;
    expect(Date.parse(expiry.expires_at) - Date.parse(manifest.finished_at)).toBe(30 * 86_400_000);
    expect(expiry.message).toContain(manifest.files.documents?.prefix);
    const none = await exported(memoryExportDeps([reviewed("doc-y")]), {
      format: "rag",
      options: { bedrock_kb_sidecars: false },
    });
    expect(none.manifest.warnings).toEqual([]);
  });

  it("writes progress while it runs", async () => {
    const setup = memoryExportDeps(
      Array.from({ length: 7 }, (_, i) => reviewed(`progress-${i}`)),
      { progressIntervalMs: 0 },
    );
    await exported(setup, { format: "openai-sft" });
    expect(setup.jobs.progressWrites.map((p) => p.considered)).toEqual([3, 6, 7]);
  });

  it("is not rerun by a redelivery once it finished", async () => {
    const setup = memoryExportDeps([reviewed("once")]);
    const { job } = await exported(setup, { format: "openai-sft" });
    const before = setup.objects.objects.size;
    expect(await runExportJob(setup.deps, job.id)).toBeNull();
    expect(setup.objects.objects.size).toBe(before);
    await expect(runExportJob(setup.deps, "no-such-export")).rejects.toThrow(NotFoundError);
  });

  it("aborts its uploads when one fails; the queue handler records why, and on the last delivery fails the job", async () => {
    const setup = memoryExportDeps([reviewed("doomed")]);
    setup.objects.failWritesTo = "dataset.jsonl";
    const job = await createExport(setup.deps, ExportRequest.parse({ format: "openai-sft" }), "ana");
    const handle = createExportRecordHandler(setup.deps, { maxReceiveCount: 3 });
    const body = JSON.stringify({ export_id: job.id });

    await expect(handle(sqsRecord(body))).rejects.toThrow("S3 refused");
    expect(setup.objects.aborted).toEqual(expect.arrayContaining([`exports/${job.id}/dataset.jsonl`]));
    expect(await setup.jobs.get(job.id)).toMatchObject({
      status: "running",
      error: expect.stringMatching(/^attempt 1 failed: S3 refused/),
    });

    const last = sqsRecord(body, {
      attributes: { ...sqsRecord(body).attributes, ApproximateReceiveCount: "3" },
    });
    await expect(handle(last)).rejects.toThrow("S3 refused");
    const failed = await exportStatus(setup.deps, job.id);
    expect(failed).toMatchObject({ status: "failed", attempts: 2, download: null });
    expect(failed.error).toMatch(/^gave up after 3 attempts: S3 refused/);
  });

  it("stops cleanly when its time is nearly up: uploads aborted, no manifest, the reason thrown", async () => {
    const setup = memoryExportDeps(Array.from({ length: 5 }, (_, i) => reviewed(`late-${i}`)));
    const job = await createExport(setup.deps, ExportRequest.parse({ format: "openai-sft" }), "ana");
    await expect(runExportJob(setup.deps, job.id, { deadline: Date.now() - 1 })).rejects.toThrow(
      TimeLimitError,
    );
    expect(setup.objects.aborted).toContain(`exports/${job.id}/dataset.jsonl`);
    expect(setup.objects.objects.has(`exports/${job.id}/manifest.json`)).toBe(false);
  });

  it("drops a message whose job does not exist", async () => {
    const setup = memoryExportDeps([]);
    const handle = createExportRecordHandler(setup.deps, { maxReceiveCount: 3 });
    await expect(handle(sqsRecord(JSON.stringify({ export_id: "gone" })))).resolves.toBeUndefined();
  });
});

describe("creating and reading jobs", () => {
  it("answers 503 without an exports queue, and fails a job its queue refused", async () => {
    const unconfigured = memoryExportDeps([], { queue: undefined });
    await expect(
      createExport(unconfigured.deps, ExportRequest.parse({ format: "rag" }), "ana"),
    ).rejects.toThrow(NotConfiguredError);

    const refused = memoryExportDeps([]);
    refused.queue.failWith = new Error("queue unavailable");
    await expect(createExport(refused.deps, ExportRequest.parse({ format: "rag" }), "ana")).rejects.toThrow(
      "queue unavailable",
    );
    expect(await refused.jobs.get("export-001")).toMatchObject({
      status: "failed",
      error: "could not be queued: Error: queue unavailable",
    });
  });

  it("signs download links for 15 minutes by default, as asked within the maximum, never beyond", async () => {
    const setup = memoryExportDeps([reviewed("signed")]);
    const { job } = await exported(setup, { format: "openai-sft" });

    const view = await exportStatus(setup.deps, job.id);
    expect(view.download).toMatchObject({ file_name: job.file_name, expires_in: 900 });
    const url = new URL(view.download?.url ?? "");
    expect(url.searchParams.get("X-Amz-Expires")).toBe("900");
    expect(url.searchParams.get("response-content-type")).toBe("application/x-ndjson");
    expect(url.searchParams.get("response-content-disposition")).toBe(
      `attachment; filename="${job.file_name}"`,
    );
    expect(view.quarantine_download?.file_name).toBe(job.file_name.replace(".jsonl", ".quarantine.jsonl"));

    expect((await exportStatus(setup.deps, job.id, 60)).download?.expires_in).toBe(60);
    await expect(exportStatus(setup.deps, job.id, 3601)).rejects.toThrow(ValidationError);
    await expect(exportStatus(setup.deps, "missing")).rejects.toThrow(NotFoundError);
  });

  it("shows a queued job without links, and lists jobs newest first", async () => {
    const setup = memoryExportDeps([]);
    await createExport(setup.deps, ExportRequest.parse({ format: "rag" }), "ana");
    await createExport(setup.deps, ExportRequest.parse({ format: "trl-sft" }), "bo");
    expect(await exportStatus(setup.deps, "export-001")).toMatchObject({
      status: "queued",
      download: null,
      manifest: null,
    });
    const { exports } = await listExports(setup.deps, 10);
    expect(exports.map((job) => [job.id, job.format, job.requested_by])).toEqual([
      ["export-002", "trl-sft", "bo"],
      ["export-001", "rag", "ana"],
    ]);
  });
});

describe("Avocet's GET /api/sft/export", () => {
  it("builds the approved SFT lines now and returns a signed link named sft_export_<UTC time>.jsonl", async () => {
    const mix = seededMix();
    const setup = memoryExportDeps(mix.map((s) => s.candidate));
    const url = new URL(await avocetSftExport(setup.deps, "ana"));
    const [job] = [...setup.jobs.jobs.values()];
    expect(job).toMatchObject({ origin: "avocet", status: "succeeded", format: "openai-sft" });
    expect(job?.file_name).toMatch(/^sft_export_\d{8}-\d{6}\.jsonl$/);
    expect(url.searchParams.get("response-content-disposition")).toBe(
      `attachment; filename="${job?.file_name}"`,
    );
    expect(setup.queue.sent).toEqual([]);
    // Only the approved partition is read, so only approved records are considered.
    expect(setup.source.selections.map((s) => s.statuses)).toEqual([["approved"]]);
    const dataset = parse(setup.objects.body(`exports/${job?.id}/dataset.jsonl`));
    expect(dataset[0]).toEqual({
      messages: [
        { role: "system", content: "Answer briefly." },
        { role: "user", content: "Question about clean-1?" },
        { role: "assistant", content: "Right answer about clean-1." },
      ],
    });
  });

  it("answers with an empty file, not an error, when nothing is approved", async () => {
    const setup = memoryExportDeps([reviewed("waiting", { status: "needs_review" })]);
    await avocetSftExport(setup.deps, "ana");
    const [job] = [...setup.jobs.jobs.values()];
    expect(setup.objects.body(`exports/${job?.id}/dataset.jsonl`)).toBe("");
    expect(job?.manifest?.files.dataset).toMatchObject({
      bytes: 0,
      lines: 0,
      sha256: sha256(""),
    });
  });

  it("refuses (413) more approved candidates than a request may build, before creating anything", async () => {
    const setup = memoryExportDeps([reviewed("a"), reviewed("b")], { syncMaxRecords: 1 });
    await expect(avocetSftExport(setup.deps, "ana")).rejects.toThrow(TooLargeForRequestError);
    expect(setup.jobs.jobs.size).toBe(0);
  });
});
