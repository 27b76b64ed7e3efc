import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";
import { ensureWebBuild } from "../../web/build.ts";
import { expectAccessible } from "../support/axe.ts";

/**
 * The quarantine and provenance pages driven like a user in headless Chromium against `npm start`'s
 * runtime: a run with bad lines is uploaded, its quarantine read from the Runs page and filtered
 * by reason; a refused correction shows in the ingest quarantine; provenance coverage shows as
 * bars, and a backfill is previewed, then applied. Each page passes axe-core.
 */

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");
const RUN = "2026-05-02-101500-damaged";
const SOURCE = "e2e-rig";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WAIT_MS = 15_000;

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

let workDir: string;
let runtime: LocalRuntime;
let context: BrowserContext;
let page: Page;
const logs: string[] = [];

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

async function waitFor<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen in time\n${logs.join("\n")}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

const seen = (locator: Locator) => locator.innerText();
const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === "data:" || protocol === "blob:") return true;
  return ["127.0.0.1", "localhost", "[::1]"].includes(hostname);
};
const hashOf = () => new URL(page.url()).hash;

/** A screenshot of the whole page, the window made as tall as the page so nothing sits over it. */
async function screenshotOf(name: string) {
  const path = join(repoRoot, "docs", name);
  await mkdir(dirname(path), { recursive: true });
  const height = await page
    .locator("html")
    .evaluate((html) => (html as { scrollHeight: number }).scrollHeight);
  await page.setViewportSize({ width: 1280, height: Math.min(height + 80, 4000) });
  await page.screenshot({ path });
  await page.setViewportSize({ width: 1280, height: 900 });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium), as .ci/run does`,
    );
  }
  const [build] = await Promise.all([
    ensureWebBuild(),
    (async () => {
      workDir = await mkdtemp(join(tmpdir(), "flywheel-web-quality-"));
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
      Key: `runs/${RUN}/sft_candidates.jsonl`,
      Body: LINES.map(([text]) => text).join("\n"),
    }),
  );
  const sqs = new SQSClient({ region: runtime.config.region, endpoint: runtime.config.sqsEndpoint });
  const corrections = runtime.config.queues["flywheel-corrections"] as string;
  await sqs.send(new SendMessageCommand({ QueueUrl: corrections, MessageBody: "this is not a correction" }));

  await waitFor("the import of the damaged run", async () => {
    const runs = await api<{ run_id: string; import_state: string | null }[]>("/api/sft/runs");
    return runs.body?.find((run) => run.run_id === RUN)?.import_state === "completed" ? true : undefined;
  });
  await waitFor("the refused correction's quarantine entry", async () => {
    const page = await api<{ items: unknown[] }>("/api/sft/ingest/quarantine");
    return (page.body?.items.length ?? 0) > 0 ? true : undefined;
  });

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
    viewport: { width: 1280, height: 900 },
    timeout: WAIT_MS,
  });
  await context.route("**/*", (route) =>
    isLoopback(route.request().url()) ? route.continue() : route.abort("blockedbyclient"),
  );
  context.setDefaultTimeout(WAIT_MS);
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => logs.push(`page error: ${error.message}`));
});

afterAll(async () => {
  await context?.close();
  await runtime?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("quarantine and provenance in Chromium", () => {
  it("opens a run's quarantine from the Runs page: counts by reason, entries, a reason filter, the download", async () => {
    await page.goto(`${runtime.config.apiUrl}/#/runs`);
    const link = page.locator(`[data-run="${RUN}"] [data-testid="quarantine-link"]`);
    await link.waitFor();
    expect(await seen(link)).toBe(String(BAD.length));
    await link.click();
    expect(hashOf()).toBe(`#/runs/${RUN}/quarantine`);

    const table = page.getByTestId("quarantine-table");
    await table.waitFor();
    expect(await seen(page.getByTestId("quarantine-summary"))).toContain(`${BAD.length} lines quarantined`);
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
    const chart = page.locator("figure.chart", { hasText: "Quarantined by reason" });
    await expect.poll(() => chart.locator("canvas").getAttribute("aria-label")).toMatch(/invalid_json 3/);
    await expectAccessible(page, "a run's quarantine");

    await page.getByTestId("quarantine-reason").selectOption("invalid_json");
    await expect.poll(() => hashOf()).toBe(`#/runs/${RUN}/quarantine?reason=invalid_json`);
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

    const href = await page.getByTestId("quarantine-download").getAttribute("href");
    expect(href).toBeTruthy();
    const file = await fetch(href as string);
    expect(file.status).toBe(200);
    const entries = (await file.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { line: number; reason: string });
    expect(entries.map(({ line, reason }) => ({ line, reason }))).toEqual(BAD);

    await page.getByTestId("quarantine-reason").selectOption("");
    await expect.poll(() => table.locator("tbody tr").count()).toBe(BAD.length);
    await screenshotOf("quarantine.png");
  });

  it("shows the ingest path's refused messages", async () => {
    await page.goto(`${runtime.config.apiUrl}/#/runs`);
    await page.getByTestId("ingest-quarantine-link").click();
    expect(hashOf()).toBe("#/ingest/quarantine");
    const table = page.getByTestId("quarantine-table");
    await table.waitFor();
    expect(await table.locator("tbody .chip").allInnerTexts()).toEqual(["invalid_json"]);
    expect(await seen(table.locator("tbody code"))).toBe("this is not a correction");
    expect(await seen(page.getByTestId("quarantine-summary"))).toMatch(
      /1 refused message on \d{4}-\d{2}-\d{2}/,
    );
    await expectAccessible(page, "the ingest quarantine");
    await screenshotOf("ingest-quarantine.png");
  });

  it("shows coverage by source and model as bars, the records missing provenance, and previews then applies a backfill", async () => {
    await page.goto(`${runtime.config.apiUrl}/#/provenance`);
    const summary = page.getByTestId("provenance-summary");
    await summary.waitFor();
    // Four candidates, two of them without a model.
    expect(await seen(summary)).toMatch(/^50% of 4 records can be traced/);
    const bySource = page.locator("figure.chart", { hasText: "Coverage by source" });
    const byModel = page.locator("figure.chart", { hasText: "Coverage by model" });
    await expect
      .poll(() => bySource.locator("canvas").getAttribute("aria-label"))
      .toMatch(/valid: e2e-rig \(50% traced\) 2/);
    expect(await byModel.locator("canvas").getAttribute("aria-label")).toMatch(
      /Qwen2\.5-3B \(100% traced\) 2/,
    );

    const missing = page.getByTestId("missing-table");
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
    await expectAccessible(page, "the provenance page");

    await page.getByTestId("backfill-run").fill(RUN);
    await page.getByTestId("backfill-source").fill(SOURCE);
    await page.getByTestId("backfill-model").fill("Llama-3.2-3B");
    expect(await page.getByTestId("backfill-apply").isDisabled()).toBe(true);
    await page.getByTestId("backfill-preview").click();
    const preview = page.getByTestId("backfill-preview-result");
    await preview.waitFor();
    expect(await seen(preview)).toContain("of 4 matching records, 2 would be filled in");
    expect(await seen(preview)).toContain("model = Llama-3.2-3B");
    // The preview wrote nothing.
    expect(
      (await api<{ missing_provenance: number }>("/api/provenance/report")).body.missing_provenance,
    ).toBe(2);
    await expectAccessible(page, "the provenance page with a backfill preview");
    await screenshotOf("provenance.png");

    await page.getByTestId("backfill-apply").click();
    const applied = page.getByTestId("backfill-applied");
    await applied.waitFor();
    expect(await seen(applied)).toContain("Filled in 2 of 4 matching records");
    await expect.poll(() => seen(summary)).toMatch(/^100% of 4 records can be traced/);
    expect(
      (await api<{ missing_provenance: number }>("/api/provenance/report")).body.missing_provenance,
    ).toBe(0);
    await expect.poll(() => page.locator('[data-testid="missing-table"]').count()).toBe(0);
    await expectAccessible(page, "the provenance page after a backfill");
  });
});
