// @vitest-environment happy-dom
import { mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, type ReviewApi } from "../../web/src/api.ts";
import ProvenancePage from "../../web/src/pages/ProvenancePage.vue";
import QuarantinePage from "../../web/src/pages/QuarantinePage.vue";
import type {
  BackfillOutcome,
  BackfillPreview,
  InvalidProvenancePage,
  ProvenanceReport,
  RunQuarantinePage,
} from "../../web/src/quality-api.ts";
import { matchRoute, parseHash } from "../../web/src/router.ts";
import { ROUTES } from "../../web/src/routes.ts";
import { settle } from "./fixtures.ts";

let wrapper: VueWrapper | undefined;

afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  window.location.hash = "";
});

const RUN = "2026-05-02-101500-damaged";
const IMPORT = "0123456789abcdef0123456789abcdef";

function runPage(
  lines: number[],
  next: string | null,
  overrides: Partial<RunQuarantinePage> = {},
): RunQuarantinePage {
  return {
    run_id: RUN,
    import_id: IMPORT,
    state: "completed",
    quarantined: 60,
    by_reason: { invalid_json: 50, duplicate_id: 10 },
    reason: null,
    items: lines.map((line) => ({
      line,
      reason: "invalid_json",
      detail: "Unexpected token",
      raw_excerpt: `raw ${line}`,
      raw_chars: 5,
      raw_truncated: false,
    })),
    next_cursor: next,
    scanned_bytes: 100,
    file_bytes: 300,
    download: {
      url: "http://127.0.0.1/q?sig",
      file_name: "q.jsonl",
      expires_in: 900,
      expires_at: "2026-12-06T01:00:00Z",
    },
    ...overrides,
  };
}

function fakeQualityApi(quality: Record<string, unknown>) {
  return { quality } as unknown as ReviewApi;
}

const lines = () =>
  wrapper?.findAll(".quarantine-table tbody tr").map((row) => row.attributes("data-line")) ?? [];

describe("the quarantine page", () => {
  it("is where a run's quarantined count and the ingest link lead", () => {
    const run = matchRoute(ROUTES, parseHash(`#/runs/${RUN}/quarantine?reason=invalid_json`));
    expect(run?.route.component).toBe(QuarantinePage);
    expect(run?.params).toEqual({ run_id: RUN });
    expect(run?.query).toEqual({ reason: "invalid_json" });
    expect(matchRoute(ROUTES, parseHash("#/ingest/quarantine"))?.route.component).toBe(QuarantinePage);
  });

  it("pages forward with the cursor and the import it began in, and back again", async () => {
    const runQuarantine = vi
      .fn()
      .mockResolvedValueOnce(runPage([1, 2], "120"))
      .mockResolvedValueOnce(runPage([5], null))
      .mockResolvedValueOnce(runPage([1, 2], "120"));
    wrapper = mount(QuarantinePage, {
      attachTo: document.body,
      props: { api: fakeQualityApi({ runQuarantine }), runId: RUN, query: {} },
    });
    await settle();
    expect(runQuarantine).toHaveBeenLastCalledWith(RUN, {
      reason: null,
      cursor: null,
      importId: null,
      limit: 25,
    });
    expect(lines()).toEqual(["1", "2"]);
    expect(wrapper.get('[data-testid="quarantine-summary"]').text()).toContain("60 lines quarantined");
    expect(wrapper.get('[data-testid="quarantine-download"]').attributes("href")).toBe(
      "http://127.0.0.1/q?sig",
    );
    const options = wrapper.findAll('[data-testid="quarantine-reason"] option').map((o) => o.text());
    expect(options).toEqual(["All reasons", "invalid_json (50)", "duplicate_id (10)"]);

    await wrapper.get('[data-testid="quarantine-next"]').trigger("click");
    await settle();
    expect(runQuarantine).toHaveBeenLastCalledWith(RUN, {
      reason: null,
      cursor: "120",
      importId: IMPORT,
      limit: 25,
    });
    expect(lines()).toEqual(["5"]);
    expect(wrapper.get('[data-testid="quarantine-next"]').attributes("disabled")).toBeDefined();

    const previous = wrapper.findAll(".pager button").find((b) => b.text() === "Previous page");
    await previous?.trigger("click");
    await settle();
    expect(runQuarantine).toHaveBeenLastCalledWith(RUN, {
      reason: null,
      cursor: null,
      importId: null,
      limit: 25,
    });
    expect(lines()).toEqual(["1", "2"]);
  });

  it("asks for the reason in the URL, and a new reason goes into the URL", async () => {
    const runQuarantine = vi.fn().mockResolvedValue(runPage([3], null, { reason: "duplicate_id" }));
    wrapper = mount(QuarantinePage, {
      attachTo: document.body,
      props: { api: fakeQualityApi({ runQuarantine }), runId: RUN, query: { reason: "duplicate_id" } },
    });
    await settle();
    expect(runQuarantine).toHaveBeenLastCalledWith(RUN, expect.objectContaining({ reason: "duplicate_id" }));
    await wrapper.get('[data-testid="quarantine-reason"]').setValue("invalid_json");
    expect(window.location.hash).toBe(`#/runs/${RUN}/quarantine?reason=invalid_json`);
    await wrapper.setProps({ query: { reason: "invalid_json" } });
    await settle();
    expect(runQuarantine).toHaveBeenLastCalledWith(
      RUN,
      expect.objectContaining({ reason: "invalid_json", cursor: null }),
    );
  });

  it("says why when the quarantine cannot be read", async () => {
    const runQuarantine = vi.fn().mockRejectedValue(new ApiError(404, "Run x has not been imported"));
    wrapper = mount(QuarantinePage, {
      attachTo: document.body,
      props: { api: fakeQualityApi({ runQuarantine }), runId: "x", query: {} },
    });
    await settle();
    expect(wrapper.get('[role="alert"]').text()).toContain("Run x has not been imported");
  });

  it("lists the ingest path's refused messages of the day asked for, each linked to its file", async () => {
    const ingestQuarantine = vi.fn().mockResolvedValue({
      day: "2026-12-05",
      days: ["2026-12-06", "2026-12-05"],
      reason: null,
      items: [
        {
          message_id: "m-1",
          reason: "invalid_json",
          detail: "not JSON",
          received_at: "2026-12-05T10:00:00Z",
          quarantined_at: "2026-12-05T10:00:01Z",
          raw_excerpt: "nope",
          raw_chars: 4,
          raw_truncated: false,
          raw_bytes: 4,
          download: {
            url: "http://127.0.0.1/m-1",
            file_name: "m-1.quarantine.json",
            expires_in: 900,
            expires_at: "x",
          },
        },
      ],
      examined: 1,
      next_cursor: null,
      by_reason: { invalid_json: 1 },
      counted: 1,
      counts_complete: true,
    });
    wrapper = mount(QuarantinePage, {
      attachTo: document.body,
      props: { api: fakeQualityApi({ ingestQuarantine }), query: { day: "2026-12-05" } },
    });
    await settle();
    expect(ingestQuarantine).toHaveBeenLastCalledWith({
      day: "2026-12-05",
      reason: null,
      cursor: null,
      limit: 25,
    });
    expect(wrapper.get('[data-message="m-1"] a').attributes("href")).toBe("http://127.0.0.1/m-1");
    expect(wrapper.get('[data-testid="quarantine-summary"]').text()).toContain(
      "1 refused message on 2026-12-05",
    );
    await wrapper.get('[data-testid="quarantine-day"]').setValue("2026-12-06");
    expect(window.location.hash).toBe("#/ingest/quarantine?day=2026-12-06");
  });
});

describe("the provenance page", () => {
  const report: ProvenanceReport = {
    total: 4,
    valid: 2,
    approved: 0,
    excluded: 0,
    missing_provenance: 2,
    coverage: 50,
    by_source: { rig: { total: 4, valid: 2, missing: 2, coverage: 50 } },
    by_model: { "Qwen2.5-3B": { total: 2, valid: 2, missing: 0, coverage: 100 } },
  };
  const missing: InvalidProvenancePage = {
    items: [
      {
        id: "r-2",
        status: "needs_review",
        source: "rig",
        model: null,
        run_id: "run",
        missing: ["model"],
        errors: [],
      },
    ],
    examined: 4,
    next_cursor: null,
  };
  const preview: BackfillPreview = {
    dry_run: true,
    matched: 4,
    changed: 0,
    would_change: 2,
    still_invalid: 0,
    conflicts: 0,
    next_cursor: null,
    changes: [{ id: "r-2", status: "needs_review", source: "rig", fill: { model: "M" }, still_missing: [] }],
  };
  const outcome: BackfillOutcome = {
    matched: 4,
    changed: 2,
    still_invalid: 0,
    conflicts: 0,
    next_cursor: null,
  };

  it("shows coverage as bars, the records missing provenance, and applies a backfill only after its preview", async () => {
    const quality = {
      provenanceReport: vi.fn().mockResolvedValue(report),
      provenanceMissing: vi.fn().mockResolvedValue(missing),
      previewBackfill: vi.fn().mockResolvedValue(preview),
      backfill: vi.fn().mockResolvedValue(outcome),
    };
    wrapper = mount(ProvenancePage, { attachTo: document.body, props: { api: fakeQualityApi(quality) } });
    await settle();
    expect(wrapper.get('[data-testid="provenance-summary"]').text()).toMatch(/^50% of 4 records/);
    const charts = wrapper.findAll("figure.chart").map((figure) => figure.get("figcaption").text());
    expect(charts).toEqual(["Coverage by source", "Coverage by model"]);
    expect(wrapper.get('[data-record="r-2"]').text()).toContain("model");

    const apply = () => wrapper?.get('[data-testid="backfill-apply"]');
    expect(apply()?.attributes("disabled")).toBeDefined();
    await wrapper.get('[data-testid="backfill-run"]').setValue("run");
    await wrapper.get('[data-testid="backfill-source"]').setValue("rig");
    await wrapper.get('[data-testid="backfill-model"]').setValue("M");
    await wrapper.get('[data-testid="backfill-form"]').trigger("submit");
    await settle();
    expect(quality.previewBackfill).toHaveBeenCalledWith({
      filter: { run_id: "run" },
      source: "rig",
      model: "M",
    });
    expect(wrapper.get('[data-testid="backfill-preview-result"]').text()).toContain("2 would be filled in");
    expect(apply()?.attributes("disabled")).toBeUndefined();

    // A changed form needs a new preview.
    await wrapper.get('[data-testid="backfill-model"]').setValue("M2");
    expect(apply()?.attributes("disabled")).toBeDefined();
    await wrapper.get('[data-testid="backfill-form"]').trigger("submit");
    await settle();
    await apply()?.trigger("click");
    await settle();
    expect(quality.backfill).toHaveBeenCalledWith({ filter: { run_id: "run" }, source: "rig", model: "M2" });
    expect(wrapper.get('[data-testid="backfill-applied"]').text()).toContain("Filled in 2 of 4");
    expect(quality.provenanceReport).toHaveBeenCalledTimes(2);
  });
});
