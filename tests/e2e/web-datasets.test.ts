import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectAccessible } from "../support/axe.ts";
import { seen, WAIT_MS, webE2e } from "../support/web-e2e.ts";

/**
 * Datasets and eval sets in Chromium against `npm start`'s runtime: an export pinned as a dataset
 * version from its page and another from the datasets page, a version's files downloaded and
 * checked against the manifest's sha256, two versions compared, an eval set uploaded and listed;
 * each page checked by axe-core and photographed into docs/.
 */

/** Candidates approved before the first export, and more before the second. */
const FIRST = 6;
const MORE = 3;
const DATASET = "support-sft";

const web = webE2e({
  name: "flywheel-web-datasets",
  viewport: { width: 1280, height: 860 },
  seed: async () => {
    await web.importSampleRun();
    await approve(FIRST);
    firstExport = await exportNow();
    await approve(MORE);
    secondExport = await exportNow();
  },
});
const { api } = web;
let firstExport: string;
let secondExport: string;

async function approve(count: number) {
  for (let i = 0; i < count; i++) {
    const next = await api<{ candidate: { id: string } | null }>("/api/sft/next", {
      method: "POST",
      body: "{}",
    });
    const id = next.body.candidate?.id;
    if (!id) throw new Error("the queue ran out");
    const submitted = await api("/api/sft/submit", {
      method: "POST",
      body: JSON.stringify({
        id,
        action: "correct",
        corrected_response: `Answer: ${id}`,
        failure_category: "wrong_answer",
      }),
    });
    if (submitted.status !== 200) throw new Error(`submit ${id}: ${JSON.stringify(submitted.body)}`);
  }
}

/** An openai-sft export of everything approved so far, run to the end by the local export function. */
async function exportNow(): Promise<string> {
  const started = await api<{ id: string }>("/api/exports", {
    method: "POST",
    body: JSON.stringify({ format: "openai-sft" }),
  });
  if (started.status !== 202 && started.status !== 201) throw new Error(JSON.stringify(started.body));
  const id = started.body.id;
  await web.waitFor(
    `export ${id}`,
    async () =>
      (await api<{ status: string }>(`/api/exports/${id}`)).body.status === "succeeded" ? true : undefined,
    90_000,
  );
  return id;
}

const page = () => web.page;
const shoot = (name: string) => web.screenshot(name, { height: "page" });
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("datasets and eval sets in Chromium", () => {
  it("pins an export as version 1 from the export's page", async () => {
    await web.open(`#/exports/${encodeURIComponent(firstExport)}`);
    await expect.poll(() => seen(page().getByTestId("export-job-status"))).toBe("succeeded");
    // By keyboard: Enter in the name field submits the pin.
    await page().getByLabel("Dataset name").fill(DATASET);
    await page().getByLabel("Dataset name").press("Enter");
    await expect.poll(() => web.hash(), { timeout: WAIT_MS }).toBe(`#/datasets/${DATASET}/versions/1`);
    await expect.poll(() => seen(page().getByTestId("version-state"))).toBe("ready");
    const pinned = await api<{ export_id: string }>(`/api/datasets/${DATASET}/versions/1`);
    expect(pinned.body.export_id).toBe(firstExport);
  });

  it("pins the second export as version 2 from the datasets page, and lists both", async () => {
    await page().getByRole("link", { name: "Datasets", exact: true }).click();
    await page().getByTestId("pin-form").waitFor();
    expect(await page().locator('nav a[aria-current="page"]').innerText()).toBe("Datasets");
    await page().getByLabel("Dataset name").fill(DATASET);
    await page().getByLabel("Finished export").selectOption(secondExport);
    await page().getByTestId("pin-submit").click();
    await expect.poll(() => web.hash(), { timeout: WAIT_MS }).toBe(`#/datasets/${DATASET}/versions/2`);

    await page().getByRole("link", { name: "All datasets" }).click();
    const row = page().locator(`tr[data-dataset="${DATASET}"]`);
    await row.waitFor();
    expect(
      await row
        .locator("a[data-version]")
        .evaluateAll((links) => links.map((a) => a.getAttribute("data-version"))),
    ).toEqual(["1", "2"]);
    // The latest version's counts, from its manifest.
    const cells = await row.locator("td").allInnerTexts();
    expect(cells.slice(1, 4)).toEqual(["openai-sft", String(FIRST + MORE), "0"]);
    await expectAccessible(page(), "the datasets page");
    await shoot("datasets.png");
  });

  it("opens version 2 and downloads its dataset, whose sha256 is the manifest's", async () => {
    await page().locator(`tr[data-dataset="${DATASET}"] a[data-version="2"]`).click();
    await expect.poll(() => seen(page().getByTestId("version-state"))).toBe("ready");
    const version = await api<{
      manifest: { files: Record<string, { sha256: string; lines: number }> };
    }>(`/api/datasets/${DATASET}/versions/2`);
    expect(await seen(page().getByTestId("version-sha256-dataset"))).toBe(
      version.body.manifest.files.dataset?.sha256,
    );

    const [download] = await Promise.all([
      page().waitForEvent("download", { timeout: 30_000 }),
      page().getByTestId("version-download-dataset").click(),
    ]);
    const path = join(web.workDir, "v2.jsonl");
    await download.saveAs(path);
    const bytes = await readFile(path);
    expect(sha256(bytes)).toBe(version.body.manifest.files.dataset?.sha256);
    expect(bytes.toString("utf8").split("\n").filter(Boolean)).toHaveLength(FIRST + MORE);
  });

  it("compares version 2 with version 1: the records added, none removed", async () => {
    const diff = await api<{ added: { record_id: string }[]; removed: unknown[]; unchanged: number }>(
      `/api/datasets/${DATASET}/diff?from=1&to=2`,
    );
    expect(diff.body.added).toHaveLength(MORE);
    // By keyboard: the version chosen, Tab to Compare, Enter.
    const other = page().getByLabel("Other version", { exact: true });
    await other.selectOption("1");
    await other.focus();
    await page().keyboard.press("Tab");
    expect(
      await page()
        .getByTestId("diff-submit")
        .evaluate((button) => button === button.ownerDocument.activeElement),
    ).toBe(true);
    await page().keyboard.press("Enter");
    await page().getByTestId("diff-result").waitFor();
    expect(await seen(page().getByTestId("diff-added-count"))).toBe(String(MORE));
    expect(await seen(page().getByTestId("diff-removed-count"))).toBe("0");
    expect(await seen(page().getByTestId("diff-unchanged-count"))).toBe(String(FIRST));
    const shown = await page().locator('[data-testid="diff-added"] tbody tr td:first-child').allInnerTexts();
    expect(shown).toEqual(diff.body.added.map((record) => record.record_id));
    await expectAccessible(page(), "a dataset version with a diff");
    await shoot("dataset-version.png");
  });

  it("uploads an eval set through the page and sees it listed and indexed", async () => {
    await web.open("#/evalsets");
    await page().getByTestId("evalset-upload").waitFor();
    const items = [
      {
        id: "q1",
        question:
          "A train leaves the station at noon and travels sixty miles an hour for three hours, how far does it go?",
        answer: "180 miles",
      },
      {
        id: "q2",
        question: "What is the sum of the interior angles of a convex hexagon measured in degrees?",
        answer: "720",
      },
      { id: "q3", prompt: "Name the largest ocean on the planet Earth by total surface area today." },
    ];
    await page()
      .getByLabel("JSONL file")
      .setInputFiles({
        name: "math-check.jsonl",
        mimeType: "application/x-ndjson",
        buffer: Buffer.from(`${items.map((item) => JSON.stringify(item)).join("\n")}\n`),
      });
    // The name comes from the file's.
    expect(await page().getByLabel("Set name").inputValue()).toBe("math-check");
    await page().getByTestId("evalset-submit").click();
    await expect
      .poll(() => seen(page().getByTestId("evalset-upload-message")), { timeout: WAIT_MS })
      .toMatch(/^Registered math-check: 3 item\(s\)/);
    const row = page().locator('tr[data-evalset="math-check"]');
    await row.waitFor();
    expect((await row.locator("td").allInnerTexts()).slice(0, 2)).toEqual(["3", "3"]);
    expect(await seen(row.getByTestId("evalset-index-status"))).toMatch(/^indexed/);
    // The local reviewer holds the admin scope: it may delete a set.
    expect(await row.getByRole("button", { name: "Delete math-check" }).isEnabled()).toBe(true);
    const listed = await api<{ evalsets: { name: string; items: number; indexed: boolean }[] }>(
      "/api/evalsets",
    );
    expect(listed.body.evalsets).toEqual([
      expect.objectContaining({ name: "math-check", items: 3, indexed: true }),
    ]);

    await expectAccessible(page(), "the eval sets page");
    await shoot("evalsets.png");

    // A file with a line that is no item is refused whole, saying which line.
    await page()
      .getByLabel("JSONL file")
      .setInputFiles({
        name: "bad.jsonl",
        mimeType: "application/x-ndjson",
        buffer: Buffer.from('{"id": "x"}\n'),
      });
    await page().getByLabel("Set name").fill("bad-set");
    await page().getByTestId("evalset-submit").click();
    await expect
      .poll(() => seen(page().getByTestId("evalset-upload-message")), { timeout: WAIT_MS })
      .toMatch(/^Not registered: line/);
    expect(await page().locator('tr[data-evalset="bad-set"]').count()).toBe(0);

    await expectAccessible(page(), "the eval sets page with an upload refused");
  });

  it("deletes an eval set after asking, and it is gone from the page and the API", async () => {
    const row = page().locator('tr[data-evalset="math-check"]');
    page().once("dialog", (dialog) => dialog.accept());
    await row.getByRole("button", { name: "Delete math-check" }).click();
    await expect
      .poll(() => seen(page().getByTestId("evalset-row-message")), { timeout: WAIT_MS })
      .toMatch(/^Deleted math-check \(\d+ file\(s\)\)\.$/);
    await expect.poll(() => row.count()).toBe(0);
    expect((await api("/api/evalsets/math-check")).status).toBe(404);
  });

  it("never left this machine and raised no page error", () => {
    web.expectStayedLocal();
  });
});
