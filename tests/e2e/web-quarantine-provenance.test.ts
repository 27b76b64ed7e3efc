import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { expectAccessible } from "../support/axe.ts";
import { seen, webE2e } from "../support/web-e2e.ts";

/**
 * The quarantine and provenance pages driven like a user in headless Chromium against `npm start`'s
 * runtime: a run with bad lines is uploaded, its quarantine read from the Runs page and filtered
 * by reason; a refused correction shows in the ingest quarantine; provenance coverage shows as
 * bars, and a backfill is previewed, then applied. Each page passes axe-core.
 */

const RUN = "2026-05-02-101500-damaged";
const SOURCE = "e2e-rig";

const candidate = (i: number, withModel: boolean) =>
  JSON.stringify({
    id: `${RUN}-${i}`,
    source: SOURCE,
    benchmark_run_id: RUN,
    task_type: "arithmetic",
    prompt_messages: [{ role: "user", content: `What is ${i} + ${i}?` }],
    model_response: `${i * 3}`,
    ...(withModel ? { model_name: "Qwen2.5-3B" } : {}),
  });

/** Line by line: the run, and the reason each bad line is quarantined for. */
const LINES: [string, string | null][] = [
  [candidate(1, true), null],
  ['{"id": "broken', "invalid_json"],
  [candidate(2, false), null],
  ['["an", "array"]', "not_an_object"],
  [candidate(3, false), null],
  ["not json at all", "invalid_json"],
  [candidate(1, true), "duplicate_id"],
  [JSON.stringify({ prompt_messages: [] }), "missing_id"],
  [candidate(4, true), null],
  [`{"id": "${"x".repeat(900)}`, "invalid_json"],
];
const BAD = LINES.flatMap(([, reason], i) => (reason ? [{ line: i + 1, reason }] : []));

const web = webE2e({
  name: "flywheel-web-quality",
  seed: async () => {
    await web.putRun(RUN, LINES.map(([text]) => text).join("\n"));
    const { config } = web.runtime;
    const sqs = new SQSClient({ region: config.region, endpoint: config.sqsEndpoint });
    const corrections = config.queues["flywheel-corrections"] as string;
    await sqs.send(
      new SendMessageCommand({ QueueUrl: corrections, MessageBody: "this is not a correction" }),
    );

    await waitFor("the import of the damaged run", async () => {
      const runs = await api<{ run_id: string; import_state: string | null }[]>("/api/sft/runs");
      return runs.body?.find((run) => run.run_id === RUN)?.import_state === "completed" ? true : undefined;
    });
    await waitFor("the refused correction's quarantine entry", async () => {
      const listing = await api<{ items: unknown[] }>("/api/sft/ingest/quarantine");
      return (listing.body?.items.length ?? 0) > 0 ? true : undefined;
    });
  },
});
const { api, waitFor } = web;
/** A screenshot of the whole page, the window made as tall as the page so nothing sits over it. */
const screenshotOf = (name: string) => web.screenshot(name, { height: "page" });

describe("quarantine and provenance in Chromium", () => {
  it("opens a run's quarantine from the Runs page: counts by reason, entries, a reason filter, the download", async () => {
    await web.open("#/runs");
    const link = web.page.locator(`[data-run="${RUN}"] [data-testid="quarantine-link"]`);
    await link.waitFor();
    expect(await seen(link)).toBe(String(BAD.length));
    await link.click();
    expect(web.hash()).toBe(`#/runs/${RUN}/quarantine`);

    const table = web.page.getByTestId("quarantine-table");
    await table.waitFor();
    expect(await seen(web.page.getByTestId("quarantine-summary"))).toContain(
      `${BAD.length} lines quarantined`,
    );
    const lines = await table.locator("tbody tr").evaluateAll((rows) =>
      rows.map((row) => ({
        line: Number(row.getAttribute("data-line")),
        reason: row.querySelector(".chip")?.textContent?.trim(),
      })),
    );
    expect(lines).toEqual(BAD);
    // The duplicate names the line it repeats; a long line shows only its start.
    expect(await seen(table.locator('tr[data-line="7"]'))).toContain("line 1");
    const longRaw = await seen(table.locator('tr[data-line="10"] code'));
    expect(longRaw.length).toBe(300);
    // The counts by reason, as a chart whose numbers sit in its table.
    const chart = web.page.locator("figure.chart", { hasText: "Quarantined by reason" });
    await expect.poll(() => chart.locator("canvas").getAttribute("aria-label")).toMatch(/invalid_json 3/);
    await expectAccessible(web.page, "a run's quarantine");

    await web.page.getByTestId("quarantine-reason").selectOption("invalid_json");
    await expect.poll(() => web.hash()).toBe(`#/runs/${RUN}/quarantine?reason=invalid_json`);
    await expect
      .poll(() =>
        table.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-line"))),
      )
      .toEqual(["2", "6", "10"]);
    expect(await table.locator("tbody .chip").allInnerTexts()).toEqual([
      "invalid_json",
      "invalid_json",
      "invalid_json",
    ]);

    const href = await web.page.getByTestId("quarantine-download").getAttribute("href");
    expect(href).toBeTruthy();
    const file = await fetch(href as string);
    expect(file.status).toBe(200);
    const entries = (await file.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { line: number; reason: string });
    expect(entries.map(({ line, reason }) => ({ line, reason }))).toEqual(BAD);

    await web.page.getByTestId("quarantine-reason").selectOption("");
    await expect.poll(() => table.locator("tbody tr").count()).toBe(BAD.length);
    await screenshotOf("quarantine.png");
  });

  it("shows the ingest path's refused messages", async () => {
    await web.open("#/runs");
    await web.page.getByTestId("ingest-quarantine-link").click();
    expect(web.hash()).toBe("#/ingest/quarantine");
    const table = web.page.getByTestId("quarantine-table");
    await table.waitFor();
    expect(await table.locator("tbody .chip").allInnerTexts()).toEqual(["invalid_json"]);
    expect(await seen(table.locator("tbody code"))).toBe("this is not a correction");
    expect(await seen(web.page.getByTestId("quarantine-summary"))).toMatch(
      /1 refused message on \d{4}-\d{2}-\d{2}/,
    );
    await expectAccessible(web.page, "the ingest quarantine");
    await screenshotOf("ingest-quarantine.png");
  });

  it("shows coverage by source and model as bars, the records missing provenance, and previews then applies a backfill", async () => {
    await web.open("#/provenance");
    const summary = web.page.getByTestId("provenance-summary");
    await summary.waitFor();
    // Four candidates, two of them without a model.
    expect(await seen(summary)).toMatch(/^50% of 4 records can be traced/);
    const bySource = web.page.locator("figure.chart", { hasText: "Coverage by source" });
    const byModel = web.page.locator("figure.chart", { hasText: "Coverage by model" });
    await expect
      .poll(() => bySource.locator("canvas").getAttribute("aria-label"))
      .toMatch(/valid: e2e-rig \(50% traced\) 2/);
    expect(await byModel.locator("canvas").getAttribute("aria-label")).toMatch(
      /Qwen2\.5-3B \(100% traced\) 2/,
    );

    const missing = web.page.getByTestId("missing-table");
    await missing.waitFor();
    const rows = await missing.locator("tbody tr").evaluateAll((trs) =>
      trs.map((tr) => ({
        id: tr.getAttribute("data-record"),
        missing: [...tr.querySelectorAll("li")].map((li) => li.textContent?.trim()),
      })),
    );
    expect(rows.sort((a, b) => String(a.id).localeCompare(String(b.id)))).toEqual([
      { id: `${RUN}-2`, missing: ["model"] },
      { id: `${RUN}-3`, missing: ["model"] },
    ]);
    await expectAccessible(web.page, "the provenance page");

    await web.page.getByTestId("backfill-run").fill(RUN);
    await web.page.getByTestId("backfill-source").fill(SOURCE);
    await web.page.getByTestId("backfill-model").fill("Llama-3.2-3B");
    expect(await web.page.getByTestId("backfill-apply").isDisabled()).toBe(true);
    await web.page.getByTestId("backfill-preview").click();
    const preview = web.page.getByTestId("backfill-preview-result");
    await preview.waitFor();
    expect(await seen(preview)).toContain("of 4 matching records, 2 would be filled in");
    expect(await seen(preview)).toContain("model = Llama-3.2-3B");
    // The preview wrote nothing.
    expect(
      (await api<{ missing_provenance: number }>("/api/provenance/report")).body.missing_provenance,
    ).toBe(2);
    await expectAccessible(web.page, "the provenance page with a backfill preview");
    await screenshotOf("provenance.png");

    await web.page.getByTestId("backfill-apply").click();
    const applied = web.page.getByTestId("backfill-applied");
    await applied.waitFor();
    expect(await seen(applied)).toContain("Filled in 2 of 4 matching records");
    await expect.poll(() => seen(summary)).toMatch(/^100% of 4 records can be traced/);
    expect(
      (await api<{ missing_provenance: number }>("/api/provenance/report")).body.missing_provenance,
    ).toBe(0);
    await expect.poll(() => web.page.locator('[data-testid="missing-table"]').count()).toBe(0);
    await expectAccessible(web.page, "the provenance page after a backfill");
  });
});
