import { describe, expect, it } from "vitest";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { createExport, runExportJob } from "../../../lib/exports/usecases/exports.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { reviewed } from "../../support/export-fixtures.ts";

/** Imported as needs_review; `upstream` keeps the correction the uploaded line came with, if any. */
function inReview(marker: string, upstreamCorrection: string | null) {
  const candidate = reviewed(marker, {
    status: "needs_review",
    corrected_response: null,
    failure_category: null,
  });
  const provenance = { ...(candidate.provenance as Record<string, unknown>) };
  delete provenance.approved;
  delete provenance.approved_by;
  delete provenance.approved_at;
  return {
    ...candidate,
    provenance,
    ...(upstreamCorrection === null
      ? {}
      : { upstream: { status: "approved", corrected_response: upstreamCorrection, failure_category: null } }),
  };
}

const STORE = [
  reviewed("approved-doc"),
  inReview("review-with-correction", "The upstream correction."),
  inReview("review-without-correction", null),
  { ...reviewed("discarded-doc"), status: "discarded" },
  { ...reviewed("flagged-doc"), status: "model_rejected" },
];

async function rag(options: Record<string, unknown>, filters: Record<string, unknown> = {}) {
  const setup = memoryExportDeps(STORE);
  const job = await createExport(
    setup.deps,
    ExportRequest.parse({ format: "rag", filters, options }),
    "ana@example.com",
  );
  const manifest = (await runExportJob(setup.deps, job.id)) as ExportManifest;
  const lines = (key: string) =>
    setup.objects
      .body(key)
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  const sidecars = [...setup.objects.objects.entries()]
    .filter(([key]) => key.endsWith(".metadata.json"))
    .map(([, object]) => JSON.parse(object.body).metadataAttributes);
  return {
    manifest,
    dataset: lines(manifest.files.dataset.key),
    quarantine: lines(manifest.files.quarantine.key),
    sidecars,
  };
}

describe("rag: options.include_in_review", () => {
  it("adds candidates still in review that came with a correction, marked needs_review; never rejected ones", async () => {
    const { dataset, quarantine, sidecars, manifest } = await rag({ include_in_review: true });
    expect(dataset.map((line) => line.metadata.candidate_id)).toEqual([
      "cand-approved-doc",
      "cand-review-with-correction",
    ]);
    const inReviewLine = dataset[1];
    expect(inReviewLine.text).toBe("The upstream correction.");
    expect(inReviewLine.metadata.review_status).toBe("needs_review");
    expect(dataset[0].metadata).not.toHaveProperty("review_status");
    expect(quarantine).toEqual([
      expect.objectContaining({ candidate_id: "cand-review-without-correction", reason: "empty_content" }),
    ]);
    const marked = sidecars.filter((attributes) => attributes.review_status === "needs_review");
    expect(marked.map((attributes) => attributes.candidate_id)).toEqual(["cand-review-with-correction"]);
    expect(manifest.request.filters.statuses).toEqual(["needs_review", "approved"]);
    // Discarded and flagged candidates are not even read, and with every status read they stay out.
    const all = await rag({ include_in_review: true, quarantine_unselected: true });
    expect(all.dataset).toHaveLength(2);
    expect(
      all.quarantine
        .filter((entry) => entry.reason === "status_disallowed")
        .map((entry) => entry.candidate_id),
    ).toEqual(expect.arrayContaining(["cand-discarded-doc", "cand-flagged-doc"]));
  });

  it("changes nothing without the option: candidates in review are not read, or are status_disallowed when asked for", async () => {
    const plain = await rag({});
    expect(plain.dataset.map((line) => line.metadata.candidate_id)).toEqual(["cand-approved-doc"]);
    const asked = await rag({}, { statuses: ["needs_review", "approved"] });
    expect(asked.quarantine.map((entry) => entry.reason)).toEqual(["status_disallowed", "status_disallowed"]);
  });

  it("is for rag exports only", () => {
    expect(ExportRequest.safeParse({ format: "trl-sft", options: { include_in_review: true } }).success).toBe(
      false,
    );
  });
});
