// @vitest-environment happy-dom
import { mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EXPORT_FORMATS } from "../../lib/exports/domain/export-request.ts";
import { ApiError } from "../../web/src/api.ts";
import { buildExportRequest, emptyExportForm, FORMATS } from "../../web/src/export-form.ts";
import ExportJobPage from "../../web/src/pages/ExportJobPage.vue";
import ExportNewPage from "../../web/src/pages/ExportNewPage.vue";
import ExportsPage from "../../web/src/pages/ExportsPage.vue";
import type { ExportJobSummary, ExportJobView } from "../../web/src/types.ts";
import { fakeApi, settle } from "./fixtures.ts";

let wrapper: VueWrapper | undefined;
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  window.location.hash = "";
  vi.useRealTimers();
});

const utc = (local: string) => new Date(local).toISOString();

describe("buildExportRequest", () => {
  it("sends the format alone when nothing else is set, so every default stays the API's", () => {
    expect(buildExportRequest(emptyExportForm())).toEqual({ ok: true, body: { format: "openai-sft" } });
  });

  it("sends every filter and option that is set, in the API's names and order", () => {
    const form = {
      ...emptyExportForm(),
      format: "trl-sft" as const,
      statuses: ["discarded" as const, "approved" as const],
      include_categories: ["wrong_answer" as const],
      exclude_categories: ["hallucination" as const, "scoring_artifact" as const],
      model: " Qwen2.5-3B ",
      task_type: "math",
      source: "benchmark",
      run_id: "2026-04-07-143022",
      from: "2026-04-01T00:00",
      to: "2026-04-08T12:30",
      limit: "500",
      trl_sft_style: "prompt_completion" as const,
      validation_fraction: "0.1",
      near_duplicate_threshold: "0.8",
      quarantine_unselected: true,
      eval_ngram: "13",
      dry_run: true,
      file_name: "math.jsonl",
      // Not for this format: left out.
      bedrock_kb_sidecars: false,
      bedrock_kb_prefix: "separate" as const,
    };
    expect(buildExportRequest(form)).toEqual({
      ok: true,
      body: {
        format: "trl-sft",
        filters: {
          statuses: ["approved", "discarded"],
          include_categories: ["wrong_answer"],
          exclude_categories: ["scoring_artifact", "hallucination"],
          model: "Qwen2.5-3B",
          task_type: "math",
          source: "benchmark",
          run_id: "2026-04-07-143022",
          from: utc("2026-04-01T00:00"),
          to: utc("2026-04-08T12:30"),
          limit: 500,
        },
        options: {
          trl_sft_style: "prompt_completion",
          validation_fraction: 0.1,
          near_duplicate_threshold: 0.8,
          eval_ngram: 13,
          quarantine_unselected: true,
          dry_run: true,
          file_name: "math.jsonl",
        },
      },
    });
  });

  it("sends the RAG options for rag only, and no validation split there", () => {
    const built = buildExportRequest({
      ...emptyExportForm(),
      format: "rag",
      bedrock_kb_sidecars: false,
      bedrock_kb_prefix: "separate",
      validation_fraction: "0.2",
    });
    expect(built).toEqual({
      ok: true,
      body: { format: "rag", options: { bedrock_kb_sidecars: false, bedrock_kb_prefix: "separate" } },
    });
  });

  it("names each field to fix and why", () => {
    const built = buildExportRequest({
      ...emptyExportForm(),
      from: "2026-04-08T00:00",
      to: "2026-04-01T00:00",
      limit: "1.5",
      validation_fraction: "1",
      near_duplicate_threshold: "0.2",
      eval_ngram: "4",
      file_name: "../etc/passwd",
      include_categories: ["wrong_answer"],
      exclude_categories: ["wrong_answer"],
    });
    expect(built.ok).toBe(false);
    expect(!built.ok && Object.keys(built.errors).sort()).toEqual(
      [
        "eval_ngram",
        "exclude_categories",
        "file_name",
        "limit",
        "near_duplicate_threshold",
        "to",
        "validation_fraction",
      ].sort(),
    );
  });

  it("describes every format the API writes", () => {
    expect(FORMATS.map((f) => f.value)).toEqual([...EXPORT_FORMATS]);
  });
});

function summary(overrides: Partial<ExportJobSummary> = {}): ExportJobSummary {
  return {
    id: "exp-1",
    status: "running",
    format: "trl-dpo",
    origin: "api",
    requested_by: "local-reviewer",
    created_at: "2026-04-07T14:30:22.000Z",
    started_at: "2026-04-07T14:30:23.000Z",
    finished_at: null,
    attempts: 1,
    error: null,
    progress: { considered: 10, exported: 7, quarantined: 3 },
    file_name: "trl-dpo_export_20260407-143022.jsonl",
    counts: null,
    ...overrides,
  };
}

const receipt = (key: string, sha: string, lines: number) => ({
  key,
  content_type: "application/x-ndjson",
  bytes: lines * 100,
  lines,
  sha256: sha.repeat(64),
});
const link = (name: string) => ({
  url: `http://127.0.0.1:9/${name}?X-Amz-Expires=900`,
  file_name: name,
  expires_in: 900,
  expires_at: "2026-04-07T14:46:00.000Z",
});

function view(overrides: Partial<ExportJobView> = {}): ExportJobView {
  const counts = {
    considered: 12,
    considered_by_status: { needs_review: 0, approved: 12, discarded: 0, model_rejected: 0 },
    exported: 8,
    lines: 8,
    quarantined: 4,
    by_reason: { status_disallowed: 0, empty_content: 1, trainer_rule: 2, duplicate_content: 1 },
    by_rule: { first_turn_not_user: 2, unsupported_role: 0 },
    not_read_by_status: { needs_review: 30 },
  };
  return {
    ...summary({ status: "succeeded", finished_at: "2026-04-07T14:31:00.000Z", counts }),
    request: { format: "trl-dpo", filters: { statuses: ["approved"], model: "Qwen2.5-3B" }, options: {} },
    warnings: [{ code: "below_trainer_minimum", message: "8 examples: OpenAI needs at least 10" }],
    manifest: {
      manifest_version: 1,
      export_id: "exp-1",
      format: "trl-dpo",
      code_version: "0.1.0",
      requested_by: "local-reviewer",
      requested_at: "2026-04-07T14:30:22.000Z",
      started_at: "2026-04-07T14:30:23.000Z",
      finished_at: "2026-04-07T14:31:00.000Z",
      ordering: "answer time",
      counts,
      warnings: [],
      files: {
        dataset: receipt("exports/exp-1/dataset.jsonl", "a", 8),
        quarantine: receipt("exports/exp-1/quarantine.jsonl", "b", 4),
        records: receipt("exports/exp-1/records.jsonl", "c", 8),
        documents: null,
      },
    },
    download: link("trl-dpo.jsonl"),
    quarantine_download: link("trl-dpo.quarantine.jsonl"),
    record_index_download: link("trl-dpo.records.jsonl"),
    ...overrides,
  };
}

function exportsApi() {
  const fake = fakeApi([]);
  const api = Object.assign(fake.api, {
    startExport: vi.fn(async () => summary({ id: "exp-9", status: "queued" })),
    exportJobs: vi.fn(async () => ({ exports: [summary()] })),
    exportView: vi.fn(async () => view()),
  });
  return api;
}

describe("ExportNewPage", () => {
  it("starts the export the form describes and opens its page", async () => {
    const api = exportsApi();
    wrapper = mount(ExportNewPage, { attachTo: document.body, props: { api } });
    await settle();

    await wrapper.get('input[name="format"][value="trl-dpo"]').setValue(true);
    await wrapper.get("#export-model").setValue("Qwen2.5-3B");
    await wrapper.get("#export-near_duplicate_threshold").setValue("0.9");
    await wrapper.get('[data-testid="export-form"]').trigger("submit");
    await settle();

    expect(api.startExport).toHaveBeenCalledTimes(1);
    const [body, key] = api.startExport.mock.calls[0] as unknown as [unknown, string];
    expect(body).toEqual({
      format: "trl-dpo",
      filters: { model: "Qwen2.5-3B" },
      options: { near_duplicate_threshold: 0.9 },
    });
    expect(key).toMatch(/.{8,}/);
    expect(window.location.hash).toBe("#/exports/exp-9");
  });

  it("marks a field to fix, sends nothing, and shows the API's refusal", async () => {
    const api = exportsApi();
    wrapper = mount(ExportNewPage, { attachTo: document.body, props: { api } });
    await settle();
    await wrapper.get("#export-limit").setValue("-3");
    await wrapper.get('[data-testid="export-form"]').trigger("submit");
    await settle();
    expect(api.startExport).not.toHaveBeenCalled();
    expect(wrapper.get("#export-limit").attributes("aria-invalid")).toBe("true");
    expect(wrapper.get("#export-limit-error").text()).toContain("whole number");
    expect(document.activeElement?.id).toBe("export-limit");

    await wrapper.get("#export-limit").setValue("");
    api.startExport.mockRejectedValueOnce(new ApiError(403, "This route needs the scope flywheel/export"));
    await wrapper.get('[data-testid="export-form"]').trigger("submit");
    await settle();
    expect(wrapper.get('[data-testid="export-error"]').text()).toBe(
      "Not started: This route needs the scope flywheel/export",
    );
  });
});

describe("ExportsPage", () => {
  it("lists the jobs and polls while one runs, then stops", async () => {
    vi.useFakeTimers();
    const api = exportsApi();
    api.exportJobs
      .mockResolvedValueOnce({ exports: [summary()] })
      .mockResolvedValue({ exports: [summary({ status: "succeeded", counts: view().counts })] });
    wrapper = mount(ExportsPage, { attachTo: document.body, props: { api } });
    await vi.advanceTimersByTimeAsync(0);
    expect(wrapper.get('[data-testid="exports-live"]').text()).toContain("1 export in progress");
    expect(wrapper.get('tr[data-export="exp-1"] a').attributes("href")).toBe("#/exports/exp-1");

    await vi.advanceTimersByTimeAsync(1_600);
    expect(wrapper.get('tr[data-export="exp-1"]').text()).toContain("succeeded");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.exportJobs).toHaveBeenCalledTimes(2);
  });
});

describe("ExportJobPage", () => {
  it("shows the counts, why records were kept out, the warnings, each file's sha256 and its download", async () => {
    const api = exportsApi();
    wrapper = mount(ExportJobPage, { attachTo: document.body, props: { api, id: "exp-1" } });
    await settle();

    expect(wrapper.get('[data-testid="export-job-status"]').text()).toBe("succeeded");
    expect(wrapper.get('[data-testid="download-dataset"]').attributes("href")).toBe(
      link("trl-dpo.jsonl").url,
    );
    expect(wrapper.get('[data-testid="download-quarantine"]').attributes("href")).toContain("quarantine");
    expect(wrapper.get('[data-testid="download-records"]').attributes("href")).toContain("records");
    expect(wrapper.get('[data-testid="sha256-records"]').text()).toBe("c".repeat(64));
    expect(wrapper.get('[data-testid="export-warnings"]').text()).toContain("OpenAI needs at least 10");

    // No canvas in this DOM: each chart's numbers are in its table, which is then open.
    const charts = wrapper.findAll("figure.chart");
    expect(charts.map((chart) => chart.get("figcaption").text())).toEqual([
      "Candidates by status",
      "Kept out, by reason",
      "Trainer rules broken",
    ]);
    const rows = (i: number) =>
      charts[i]?.findAll("tbody tr").map((row) => row.findAll("th, td").map((cell) => cell.text()));
    expect(rows(0)).toEqual([
      ["needs_review", "0", "30"],
      ["approved", "12", "0"],
    ]);
    expect(rows(1)).toEqual([
      ["trainer_rule", "2"],
      ["duplicate_content", "1"],
      ["empty_content", "1"],
    ]);
    expect(rows(2)).toEqual([["first_turn_not_user", "2"]]);
  });

  it("follows a running job until it is done", async () => {
    vi.useFakeTimers();
    const api = exportsApi();
    api.exportView
      .mockResolvedValueOnce({
        ...view(),
        ...summary(),
        manifest: null,
        download: null,
        quarantine_download: null,
      })
      .mockResolvedValue(view());
    wrapper = mount(ExportJobPage, { attachTo: document.body, props: { api, id: "exp-1" } });
    await vi.advanceTimersByTimeAsync(0);
    expect(wrapper.get('[data-testid="export-progress"]').text()).toContain("10 considered, 7 exported");
    expect(wrapper.find('[data-testid="download-dataset"]').exists()).toBe(false);
    await vi.advanceTimersByTimeAsync(1_100);
    expect(wrapper.get('[data-testid="export-job-status"]').text()).toBe("succeeded");
    expect(wrapper.find('[data-testid="download-dataset"]').exists()).toBe(true);
  });
});
