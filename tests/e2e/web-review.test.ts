import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SAMPLE_RUN, seen, WAIT_MS, webE2e } from "../support/web-e2e.ts";

const runId = SAMPLE_RUN;
const web = webE2e({
  name: "flywheel-web-e2e",
  viewport: { width: 1280, height: 860 },
  seed: () => web.importSampleRun(),
});
const { api } = web;

const cardId = () => seen(web.page.locator('[data-testid="queue-card"] .mono'));
const remaining = () => web.page.getByTestId("remaining");
const stat = (name: string) => web.page.locator(`[data-testid="stat-${name}"] dd`);

describe("the reviewer web UI in Chromium", () => {
  let corrected: string;
  let discarded: string;
  let flagged: string;

  it("signs in locally by itself and shows the oldest candidate, with the queue size", async () => {
    await web.open();

    await expect.poll(() => seen(remaining()), { timeout: WAIT_MS }).toBe("30 remaining");
    const card = web.page.getByTestId("queue-card");
    await card.waitFor();
    expect(await cardId()).toBe(`${runId}-0000000`);
    expect(await seen(card.locator(".card-title"))).toBe("Qwen2.5-3B");
    expect(await seen(web.page.getByTestId("quality"))).toBe("0.56 · fair");
    expect(await seen(web.page.getByTestId("failure-reason"))).toContain("numeric_match: off by factor");
    expect(await seen(web.page.getByTestId("answer"))).toBe("Answer: 110");
    expect(await card.locator(".message .role").allTextContents()).toEqual(["system", "user"]);
    expect(await seen(stat("approved"))).toBe("0");

    await web.screenshot("queue.png");
  });

  it("corrects one by keyboard: C, type, Ctrl+Enter", async () => {
    corrected = await cardId();
    await web.page.keyboard.press("c");
    const editor = web.page.getByTestId("correction");
    await expect.poll(() => editor.evaluate((el) => el.matches(":focus"))).toBe(true);
    expect(await web.page.getByTestId("submit-correction").isDisabled()).toBe(true);

    await web.page.keyboard.type("  Answer: 27.5 km/h\n");
    await web.page.keyboard.press("Control+Enter");

    await expect.poll(() => seen(remaining())).toBe("29 remaining");
    expect(await cardId()).not.toBe(corrected);
  });

  it("discards one with a category: D, 4, Enter", async () => {
    discarded = await cardId();
    await web.page.keyboard.press("d");
    await web.page.getByTestId("confirm-discard").waitFor();
    await web.page.keyboard.press("4");
    expect(
      await web.page
        .locator('[data-testid="confirm-discard"] [data-category="wrong_answer"]')
        .getAttribute("aria-pressed"),
    ).toBe("true");
    await web.page.keyboard.press("Enter");

    await expect.poll(() => seen(remaining())).toBe("28 remaining");
  });

  it("flags one: F, Enter", async () => {
    flagged = await cardId();
    expect(flagged).not.toBe(discarded);
    await web.page.keyboard.press("f");
    await web.page.getByTestId("confirm-flag").waitFor();
    await web.page.keyboard.press("Enter");

    await expect.poll(() => seen(remaining())).toBe("27 remaining");
    await expect.poll(() => seen(stat("flagged"))).toBe("1");
  });

  it("undoes the flag: the candidate is back at the front, and the counts follow", async () => {
    await web.page.keyboard.press("u");

    await expect.poll(() => seen(remaining())).toBe("28 remaining");
    expect(await cardId()).toBe(flagged);
    await expect.poll(() => seen(stat("flagged"))).toBe("0");
    expect(await seen(stat("approved"))).toBe("1");
    expect(await seen(stat("discarded"))).toBe("1");
    expect(await seen(stat("export-ready"))).toBe("1");

    const stats = await api<{ by_status: Record<string, number> }>("/api/sft/stats");
    expect(stats.body.by_status).toEqual({ needs_review: 28, approved: 1, discarded: 1, model_rejected: 0 });
    const approved = await api<{ candidate: unknown }>(`/api/sft/candidates/${corrected}`);
    expect(approved.body.candidate).toMatchObject({
      status: "approved",
      corrected_response: "Answer: 27.5 km/h",
    });
    const thrownOut = await api<{ candidate: unknown }>(`/api/sft/candidates/${discarded}`);
    expect(thrownOut.body.candidate).toMatchObject({ status: "discarded", failure_category: "wrong_answer" });
  });

  it("shows the candidate's history on demand", async () => {
    await web.page.getByRole("button", { name: "Show history" }).click();
    const history = web.page.locator(".history .events li");
    await expect.poll(() => history.count()).toBe(2);
    expect(await seen(history.nth(0))).toContain("flag by local-reviewer");
    expect(await seen(history.nth(1))).toContain("undo by local-reviewer");
  });

  it("keeps a refreshed queue free of what was decided", async () => {
    await web.page.reload();
    await expect.poll(() => seen(remaining()), { timeout: WAIT_MS }).toBe("28 remaining");
    expect(await cardId()).toBe(`${runId}-0000002`);
    expect(flagged).toBe(`${runId}-0000002`);
  });

  it("downloads the SFT export through its signed URL", async (ctx) => {
    const exportsApi = await api("/api/exports");
    // Reported as skipped, not passed, where the API has no export jobs to create.
    if (exportsApi.status === 404) ctx.skip("the API has no export jobs (GET /api/exports is a 404)");
    const [download] = await Promise.all([
      web.page.waitForEvent("download", { timeout: 60_000 }),
      web.page.getByTestId("export").click(),
    ]);
    const file = join(web.workDir, "export.jsonl");
    await download.saveAs(file);
    const lines = (await readFile(file, "utf8")).split("\n").filter(Boolean);

    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0] as string);
    expect(record.messages.at(-1)).toEqual({ role: "assistant", content: "Answer: 27.5 km/h" });
    expect(record.messages.slice(0, -1).map((m: { role: string }) => m.role)).toEqual(["system", "user"]);
    expect(download.suggestedFilename()).toMatch(/\.jsonl$/);
  });

  it("lists the run with its counts and re-imports it without duplicating anything", async () => {
    await web.page.getByRole("link", { name: "Runs" }).click();
    const row = web.page.locator(`tr[data-run="${runId}"]`);
    await row.waitFor();
    const cells = await row.locator("td").allInnerTexts();
    expect(cells.slice(1, 6)).toEqual(["completed", "30", "30", "0", "0"]);

    await row.getByRole("button", { name: `Re-import ${runId}` }).click();
    await expect.poll(() => seen(row.locator(".outcome"))).toBe("0 imported, 30 already there");
    await web.page.getByRole("link", { name: "Queue" }).click();
    await expect.poll(() => seen(remaining())).toBe("28 remaining");
  });

  it("fits a narrow window (200% zoom of a 1280 px screen) without sideways scrolling", async () => {
    await web.page.setViewportSize({ width: 640, height: 430 });
    await web.page.getByTestId("queue-card").waitFor();
    const overflow = await web.page.locator("html").evaluate((html) => html.scrollWidth - html.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await web.page.getByRole("button", { name: "Correct" }).scrollIntoViewIfNeeded();
    expect(await web.page.getByRole("button", { name: "Correct" }).isVisible()).toBe(true);
  });

  it("never left this machine and raised no page error", () => {
    web.expectStayedLocal();
  });
});
