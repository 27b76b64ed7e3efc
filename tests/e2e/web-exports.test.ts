import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";
import { sampleRunFile } from "../../samples/index.ts";
import { ensureWebBuild } from "../../web/build.ts";
import { expectAccessible } from "../support/axe.ts";

/**
 * The workbench in Chromium against `npm start`'s runtime: filtering the queue, creating an export
 * through the form and following it to its downloads, the exports list and the settings, each
 * page checked by axe-core and photographed into docs/.
 */

const here = dirname(fileURLToPath(import.meta.url));
const docs = join(resolve(here, "../.."), "docs");
const runId = "2026-04-07-143022";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WAIT_MS = 15_000;
/** Candidates corrected (approved) and discarded through the API before the browser starts. */
const APPROVED = 12;
const DISCARDED = 3;

let workDir: string;
let runtime: LocalRuntime;
let context: BrowserContext;
let page: Page;
const logs: string[] = [];
const blocked: string[] = [];

const api = async <Body = Record<string, unknown>>(path: string, init: RequestInit = {}) => {
  const response = await fetch(`${runtime.config.apiUrl}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${runtime.config.reviewerToken}`,
      "content-type": "application/json",
      ...init.headers,
    },
  });
  return { status: response.status, body: (await response.json().catch(() => null)) as Body };
};

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`${what} did not happen in time\n${logs.slice(-40).join("\n")}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === "data:" || protocol === "blob:") return true;
  return ["127.0.0.1", "localhost", "[::1]"].includes(hostname);
};

const seen = (locator: Locator) => locator.innerText();
const remaining = () => page.getByTestId("remaining");
/** The whole page in one window as tall as it (so the footer sits under the content, not over it). */
const shoot = async (name: string) => {
  await mkdir(docs, { recursive: true });
  const size = page.viewportSize() ?? { width: 1280, height: 860 };
  const height = await page.locator("html").evaluate((html) => html.scrollHeight);
  await page.setViewportSize({ width: size.width, height: Math.min(Math.max(height, size.height), 2400) });
  await page.screenshot({ path: join(docs, name) });
  await page.setViewportSize(size);
};
const hashOf = () => new URL(page.url()).hash;
const go = async (hash: string) => {
  await page.goto(`${runtime.config.apiUrl}/${hash}`);
};

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium)`);
  const [build] = await Promise.all([
    ensureWebBuild(),
    (async () => {
      workDir = await mkdtemp(join(tmpdir(), "flywheel-web-exports-"));
    })(),
  ]);
  logs.push(`web build: ${build}`);
  runtime = await startLocalRuntime({ dataDir: join(workDir, ".flywheel"), log: (line) => logs.push(line) });

  const s3 = new S3Client({
    region: runtime.config.region,
    endpoint: runtime.config.s3Endpoint,
    forcePathStyle: true,
  });
  await s3.send(
    new PutObjectCommand({
      Bucket: runtime.config.bucket,
      Key: `runs/${runId}/sft_candidates.jsonl`,
      Body: await readFile(sampleRunFile(runId)),
    }),
  );
  await waitFor("the import of the fixture run", async () => {
    const stats = await api<{ by_status?: Record<string, number> } | null>("/api/sft/stats");
    return stats.body?.by_status?.needs_review === 30 ? true : undefined;
  });
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

  context = await chromium.launchPersistentContext(join(workDir, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    acceptDownloads: true,
    viewport: { width: 1280, height: 860 },
    timeout: WAIT_MS,
  });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (isLoopback(url)) return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });
  context.setDefaultTimeout(WAIT_MS);
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => logs.push(`page error: ${error.message}`));
}, 240_000);

afterAll(async () => {
  await context?.close();
  await runtime?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("the workbench in Chromium", () => {
  it("the queue and runs pages pass axe-core", async () => {
    await go("#/queue");
    await page.getByTestId("queue-card").waitFor();
    await expectAccessible(page, "the review queue");
    await page.getByRole("link", { name: "Runs", exact: true }).click();
    await page.locator(`tr[data-run="${runId}"]`).waitFor();
    expect(await page.locator('nav a[aria-current="page"]').innerText()).toBe("Runs");
    await expectAccessible(page, "the runs page");
  });

  it("filters the queue by a model: the URL names it, next serves it, the count follows", async () => {
    await go("#/queue");
    await page.getByTestId("queue-card").waitFor();
    const model = "Phi-3.5-mini";
    const expected = await api<{ total: number }>(`/api/sft/queue?per_page=1&model=${model}`);
    expect(expected.body.total).toBeGreaterThan(0);
    expect(expected.body.total).toBeLessThan(30 - APPROVED - DISCARDED);

    await page.getByTestId("queue-filters").getByLabel("Model").selectOption(model);
    await expect.poll(() => hashOf()).toBe(`#/queue?model=${model}`);
    await expect.poll(() => seen(remaining()), { timeout: WAIT_MS }).toBe(`${expected.body.total} remaining`);
    await expect.poll(() => seen(page.locator('[data-testid="queue-card"] .card-title'))).toBe(model);

    // A link opens the same queue.
    await page.reload();
    await expect.poll(() => seen(remaining()), { timeout: WAIT_MS }).toBe(`${expected.body.total} remaining`);
    expect(await page.getByTestId("queue-filters").getByLabel("Model").inputValue()).toBe(model);
    await expectAccessible(page, "the filtered queue");
    await shoot("queue-filters.png");

    await page.getByTestId("clear-filters").click();
    await expect.poll(() => seen(remaining())).toBe(`${30 - APPROVED - DISCARDED} remaining`);
  });

  let exportId: string;

  it("creates an export through the form and follows it to done", async () => {
    await go("#/exports");
    await page.getByTestId("new-export").click();
    await page.getByTestId("export-form").waitFor();
    await expectAccessible(page, "the new export form");
    await page.getByLabel(/^trl-sft/).check();
    await page.getByLabel(/prompt_completion/).check();
    // Read the discarded partition too: each of those is listed in the quarantine with its reason.
    await page.getByLabel(/^approved/).check();
    await page.getByLabel(/^discarded/).check();
    await page.getByLabel("Validation share").fill("0.25");
    await shoot("export-new.png");
    await page.getByTestId("start-export").click();

    await expect.poll(() => hashOf(), { timeout: WAIT_MS }).toMatch(/^#\/exports\/(?!new$)[^/]+$/);
    exportId = decodeURIComponent(hashOf().slice("#/exports/".length));
    await expect
      .poll(() => seen(page.getByTestId("export-job-status")), { timeout: 90_000, interval: 500 })
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

    const reasons = page.locator("figure.chart", { hasText: "Kept out, by reason" });
    await reasons.locator("summary").click();
    expect(await reasons.locator("tbody tr").first().locator("th, td").allInnerTexts()).toEqual([
      "status_disallowed",
      String(DISCARDED),
    ]);
    await expect.poll(() => page.locator("figure.chart canvas").count()).toBeGreaterThan(0);
    await expectAccessible(page, "the export's page");
    await shoot("export-job.png");
  }, 180_000);

  it("downloads the dataset, the quarantine and the record index through the page, each matching its sha256", async () => {
    for (const file of ["dataset", "quarantine", "records"] as const) {
      const [download] = await Promise.all([
        page.waitForEvent("download", { timeout: 30_000 }),
        page.getByTestId(`download-${file}`).click(),
      ]);
      const path = join(workDir, `${file}.jsonl`);
      await download.saveAs(path);
      const bytes = await readFile(path);
      const sha = createHash("sha256").update(bytes).digest("hex");
      expect(sha, file).toBe(await seen(page.getByTestId(`sha256-${file}`)));
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
        const validation = Number(await seen(page.locator('tr[data-file="validation"] td').first()));
        expect(lines.length + validation).toBe(APPROVED);
      }
    }
  });

  it("a dry run through the form: counts and sha256s, and nothing to download", async () => {
    await page.getByRole("link", { name: "New export" }).click();
    await page.getByTestId("export-form").waitFor();
    await page.getByLabel(/^rag/).check();
    await page.getByLabel("Dry run").check();
    await page.getByTestId("start-export").click();
    await expect
      .poll(() => hashOf(), { timeout: WAIT_MS })
      .toMatch(new RegExp(`^#/exports/(?!new$)(?!${exportId}$)[^/]+$`));
    await expect
      .poll(() => seen(page.getByTestId("export-job-status")), { timeout: 90_000, interval: 500 })
      .toBe("succeeded");
    expect(await page.getByText("dry run: nothing written").count()).toBe(1);
    expect(await page.locator('[data-testid^="download-"]').count()).toBe(0);
    expect(await seen(page.getByTestId("sha256-dataset"))).toMatch(/^[0-9a-f]{64}$/);
  }, 180_000);

  it("lists the export with its counts", async () => {
    await page.getByRole("link", { name: "All exports" }).click();
    const row = page.locator(`tr[data-export="${exportId}"]`);
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
    const formats = await page.locator("tr[data-export] td:first-of-type").allInnerTexts();
    expect(formats).toEqual(["rag", "trl-sft"]);
    await expectAccessible(page, "the exports list");
    await shoot("exports.png");
  });

  it("settings: the runs prefix for an admin, and shortcuts turned off and back on", async () => {
    await page.getByRole("link", { name: "Settings", exact: true }).click();
    await expect.poll(() => page.locator("#settings-prefix").inputValue()).toBe("runs/");
    expect(await page.getByTestId("prefix-read-only").count()).toBe(0);
    await expectAccessible(page, "the settings page");
    await shoot("settings.png");

    await page.getByTestId("shortcuts-enabled").uncheck();
    await page.getByTestId("save-shortcuts").click();
    await go("#/queue");
    await page.getByTestId("queue-card").waitFor();
    await page.locator(".card-title").focus();
    await page.keyboard.press("c");
    await page.waitForTimeout(300);
    expect(await page.getByTestId("correction").count()).toBe(0);

    await go("#/settings");
    await page.getByTestId("shortcuts-enabled").check();
    await page.locator('input[data-key="correct"]').fill("e");
    await page.getByTestId("save-shortcuts").click();
    await go("#/queue");
    await page.getByTestId("queue-card").waitFor();
    await page.locator(".card-title").focus();
    await page.keyboard.press("e");
    await page.getByTestId("correction").waitFor();
    await page.keyboard.press("Escape");
  });

  it("never left this machine and raised no page error", () => {
    expect(blocked).toEqual([]);
    expect(logs.filter((line) => line.startsWith("page error"))).toEqual([]);
  });
});
