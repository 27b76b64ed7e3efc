import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectAccessible } from "../support/axe.ts";
import { SAMPLE_RUN, seen, WAIT_MS, webE2e } from "../support/web-e2e.ts";

/**
 * The workbench in Chromium against `npm start`'s runtime: filtering the queue, creating an export
 * through the form and following it to its downloads, the exports list and the settings, each
 * page checked by axe-core and photographed into docs/.
 */

const runId = SAMPLE_RUN;
/** Candidates corrected (approved) and discarded through the API before the browser starts. */
const APPROVED = 12;
const DISCARDED = 3;

const web = webE2e({
  name: "flywheel-web-exports",
  viewport: { width: 1280, height: 860 },
  seed: async () => {
    await web.importSampleRun();
    // A reviewer's work, through the API: some corrected, some discarded, each leased first.
    for (let i = 0; i < APPROVED + DISCARDED; i++) {
      const next = await api<{ candidate: { id: string } | null }>("/api/sft/next", {
        method: "POST",
        body: "{}",
      });
      const id = next.body.candidate?.id;
      if (!id) throw new Error("the queue ran out");
      const decision =
        i < APPROVED
          ? {
              id,
              action: "correct",
              corrected_response: `Answer: corrected ${i}`,
              failure_category: "wrong_answer",
            }
          : { id, action: "discard", failure_category: "scoring_artifact" };
      const submitted = await api("/api/sft/submit", { method: "POST", body: JSON.stringify(decision) });
      if (submitted.status !== 200) throw new Error(`submit ${id}: ${JSON.stringify(submitted.body)}`);
    }
  },
});
const { api } = web;

const remaining = () => web.page.getByTestId("remaining");
/** The whole page in one window as tall as it (so the footer sits under the content, not over it). */
const shoot = (name: string) => web.screenshot(name, { height: "page" });

describe("the workbench in Chromium", () => {
  it("the queue and runs pages pass axe-core", async () => {
    await web.open("#/queue");
    await web.page.getByTestId("queue-card").waitFor();
    await expectAccessible(web.page, "the review queue");
    await web.page.getByRole("link", { name: "Runs", exact: true }).click();
    await web.page.locator(`tr[data-run="${runId}"]`).waitFor();
    expect(await web.page.locator('nav a[aria-current="page"]').innerText()).toBe("Runs");
    await expectAccessible(web.page, "the runs page");
  });

  it("filters the queue by a model: the URL names it, next serves it, the count follows", async () => {
    await web.open("#/queue");
    await web.page.getByTestId("queue-card").waitFor();
    const model = "Phi-3.5-mini";
    const expected = await api<{ total: number }>(`/api/sft/queue?per_page=1&model=${model}`);
    expect(expected.body.total).toBeGreaterThan(0);
    expect(expected.body.total).toBeLessThan(30 - APPROVED - DISCARDED);

    await web.page.getByTestId("queue-filters").getByLabel("Model").selectOption(model);
    await expect.poll(() => web.hash()).toBe(`#/queue?model=${model}`);
    await expect.poll(() => seen(remaining()), { timeout: WAIT_MS }).toBe(`${expected.body.total} remaining`);
    await expect.poll(() => seen(web.page.locator('[data-testid="queue-card"] .card-title'))).toBe(model);

    // A link opens the same queue.
    await web.page.reload();
    await expect.poll(() => seen(remaining()), { timeout: WAIT_MS }).toBe(`${expected.body.total} remaining`);
    expect(await web.page.getByTestId("queue-filters").getByLabel("Model").inputValue()).toBe(model);
    await expectAccessible(web.page, "the filtered queue");
    await shoot("queue-filters.png");

    await web.page.getByTestId("clear-filters").click();
    await expect.poll(() => seen(remaining())).toBe(`${30 - APPROVED - DISCARDED} remaining`);
  });

  let exportId: string;

  it("creates an export through the form and follows it to done", async () => {
    await web.open("#/exports");
    await web.page.getByTestId("new-export").click();
    await web.page.getByTestId("export-form").waitFor();
    await expectAccessible(web.page, "the new export form");
    await web.page.getByLabel(/^trl-sft/).check();
    await web.page.getByLabel(/prompt_completion/).check();
    // Read the discarded partition too: each of those is listed in the quarantine with its reason.
    await web.page.getByLabel(/^approved/).check();
    await web.page.getByLabel(/^discarded/).check();
    await web.page.getByLabel("Validation share").fill("0.25");
    await shoot("export-new.png");
    await web.page.getByTestId("start-export").click();

    await expect.poll(() => web.hash(), { timeout: WAIT_MS }).toMatch(/^#\/exports\/(?!new$)[^/]+$/);
    exportId = decodeURIComponent(web.hash().slice("#/exports/".length));
    await expect
      .poll(() => seen(web.page.getByTestId("export-job-status")), { timeout: 90_000, interval: 500 })
      .toBe("succeeded");

    const job = await api<{
      request: { format: string; filters: Record<string, unknown>; options: Record<string, unknown> };
      counts: { exported: number; quarantined: number; by_reason: Record<string, number> };
    }>(`/api/exports/${exportId}`);
    expect(job.body.request).toMatchObject({
      format: "trl-sft",
      filters: { statuses: ["approved", "discarded"] },
      options: { trl_sft_style: "prompt_completion", validation_fraction: 0.25 },
    });
    expect(job.body.counts.exported).toBe(APPROVED);
    expect(job.body.counts.by_reason.status_disallowed).toBe(DISCARDED);

    const reasons = web.page.locator("figure.chart", { hasText: "Kept out, by reason" });
    await reasons.locator("summary").click();
    expect(await reasons.locator("tbody tr").first().locator("th, td").allInnerTexts()).toEqual([
      "status_disallowed",
      String(DISCARDED),
    ]);
    await expect.poll(() => web.page.locator("figure.chart canvas").count()).toBeGreaterThan(0);
    await expectAccessible(web.page, "the export's page");
    await shoot("export-job.png");
  }, 180_000);

  it("downloads the dataset, the quarantine and the record index through the page, each matching its sha256", async () => {
    for (const file of ["dataset", "quarantine", "records"] as const) {
      const [download] = await Promise.all([
        web.page.waitForEvent("download", { timeout: 30_000 }),
        web.page.getByTestId(`download-${file}`).click(),
      ]);
      const path = join(web.workDir, `${file}.jsonl`);
      await download.saveAs(path);
      const bytes = await readFile(path);
      const sha = createHash("sha256").update(bytes).digest("hex");
      expect(sha, file).toBe(await seen(web.page.getByTestId(`sha256-${file}`)));
      const lines = bytes.toString("utf8").split("\n").filter(Boolean);
      if (file === "quarantine") {
        expect(lines).toHaveLength(DISCARDED);
        expect(lines.map((line) => JSON.parse(line).reason)).toEqual(
          Array(DISCARDED).fill("status_disallowed"),
        );
      }
      if (file === "dataset") {
        for (const line of lines)
          expect(Object.keys(JSON.parse(line)).sort()).toEqual(["completion", "id", "prompt"]);
        const validation = Number(await seen(web.page.locator('tr[data-file="validation"] td').first()));
        expect(lines.length + validation).toBe(APPROVED);
      }
    }
  });

  it("a dry run through the form: counts and sha256s, and nothing to download", async () => {
    await web.page.getByRole("link", { name: "New export" }).click();
    await web.page.getByTestId("export-form").waitFor();
    await web.page.getByLabel(/^rag/).check();
    await web.page.getByLabel("Dry run").check();
    await web.page.getByTestId("start-export").click();
    await expect
      .poll(() => web.hash(), { timeout: WAIT_MS })
      .toMatch(new RegExp(`^#/exports/(?!new$)(?!${exportId}$)[^/]+$`));
    await expect
      .poll(() => seen(web.page.getByTestId("export-job-status")), { timeout: 90_000, interval: 500 })
      .toBe("succeeded");
    expect(await web.page.getByText("dry run: nothing written").count()).toBe(1);
    expect(await web.page.locator('[data-testid^="download-"]').count()).toBe(0);
    expect(await seen(web.page.getByTestId("sha256-dataset"))).toMatch(/^[0-9a-f]{64}$/);
  }, 180_000);

  it("lists the export with its counts", async () => {
    await web.page.getByRole("link", { name: "All exports" }).click();
    const row = web.page.locator(`tr[data-export="${exportId}"]`);
    await row.waitFor();
    const cells = await row.locator("td").allInnerTexts();
    expect(cells.slice(0, 5)).toEqual([
      "trl-sft",
      "succeeded",
      String(APPROVED + DISCARDED),
      String(APPROVED),
      String(DISCARDED),
    ]);
    // Newest first: the dry run, then the export.
    const formats = await web.page.locator("tr[data-export] td:first-of-type").allInnerTexts();
    expect(formats).toEqual(["rag", "trl-sft"]);
    await expectAccessible(web.page, "the exports list");
    await shoot("exports.png");
  });

  it("settings: the runs prefix for an admin, and shortcuts turned off and back on", async () => {
    await web.page.getByRole("link", { name: "Settings", exact: true }).click();
    await expect.poll(() => web.page.locator("#settings-prefix").inputValue()).toBe("runs/");
    expect(await web.page.getByTestId("prefix-read-only").count()).toBe(0);
    await expectAccessible(web.page, "the settings page");
    await shoot("settings.png");

    await web.page.getByTestId("shortcuts-enabled").uncheck();
    await web.page.getByTestId("save-shortcuts").click();
    await web.open("#/queue");
    await web.page.getByTestId("queue-card").waitFor();
    await web.page.locator(".card-title").focus();
    await web.page.keyboard.press("c");
    await web.page.waitForTimeout(300);
    expect(await web.page.getByTestId("correction").count()).toBe(0);

    await web.open("#/settings");
    await web.page.getByTestId("shortcuts-enabled").check();
    await web.page.locator('input[data-key="correct"]').fill("e");
    await web.page.getByTestId("save-shortcuts").click();
    await web.open("#/queue");
    await web.page.getByTestId("queue-card").waitFor();
    await web.page.locator(".card-title").focus();
    await web.page.keyboard.press("e");
    await web.page.getByTestId("correction").waitFor();
    await web.page.keyboard.press("Escape");
  });

  it("never left this machine and raised no page error", () => {
    web.expectStayedLocal();
  });
});
