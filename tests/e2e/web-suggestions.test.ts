import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SUGGESTION_PROMPT_VERSION } from "../../lib/suggest/domain/prompt.ts";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";
import { sampleRunFile } from "../../samples/index.ts";
import { ensureWebBuild } from "../../web/build.ts";
import { type FakeJudgeServer, quotedAnswer, startFakeJudgeServer } from "../support/fake-judge-server.ts";

/**
 * A suggestion job through `npm start`'s runtime against a fake OpenAI-compatible server, then a
 * reviewer in Chromium accepting a suggestion with one key: the correction lands with provenance
 * saying it was accepted as suggested, by which model and prompt version.
 */

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");
const runId = "2026-04-07-143022";
const screenshot = join(repoRoot, "docs", "suggestion.png");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WAIT_MS = 15_000;
const LLM_KEY = "sk-e2e-suggestions";
/** The first candidate of the sample run answers "Answer: 110"; the fake suggests this instead. */
const SUGGESTED =
  "The train covers 55 km in 2 hours, so its average speed is 55 / 2 = 27.5 km/h.\nAnswer: 27.5";

let workDir: string;
let runtime: LocalRuntime;
let llm: FakeJudgeServer;
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

async function waitFor<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen in time\n${logs.join("\n")}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === "data:" || protocol === "blob:") return true;
  return ["127.0.0.1", "localhost", "[::1]"].includes(hostname);
};

const seen = (locator: Locator) => locator.innerText();
const cardId = () => seen(page.locator('[data-testid="queue-card"] .mono'));

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium), as .ci/run does`,
    );
  }
  workDir = await mkdtemp(join(tmpdir(), "flywheel-suggest-e2e-"));
  const [build] = await Promise.all([
    ensureWebBuild(),
    (async () => {
      llm = await startFakeJudgeServer({
        apiKey: LLM_KEY,
        suggestionFor: (request) =>
          quotedAnswer(request) === "Answer: 110" ? SUGGESTED : `${quotedAnswer(request)} (checked)`,
      });
    })(),
  ]);
  logs.push(`web build: ${build}`);
  // The suggestion function reads the judge's settings, as a deployment would give them.
  process.env.JUDGE_OPENAI_BASE_URL = llm.baseUrl;
  process.env.JUDGE_OPENAI_API_KEY = LLM_KEY;
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
  await waitFor("the import of the sample run", async () => {
    const stats = await api<{ by_status?: Record<string, number> } | null>("/api/sft/stats");
    return stats.body?.by_status?.needs_review === 30 ? true : undefined;
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
    viewport: { width: 1280, height: 1000 },
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
}, 180_000);

afterAll(async () => {
  await context?.close();
  await runtime?.stop();
  await llm?.close();
  delete process.env.JUDGE_OPENAI_BASE_URL;
  delete process.env.JUDGE_OPENAI_API_KEY;
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("a suggested correction accepted with one key in Chromium", () => {
  let jobId: string;
  const first = `${runId}-0000000`;

  it("runs a suggestion job for the run's three oldest candidates through the local runtime's poller", async () => {
    const started = await api<{ id: string; total: number }>("/api/sft/suggestions", {
      method: "POST",
      body: JSON.stringify({ run_id: runId, limit: 3, suggest_model: "good" }),
    });
    expect(started.status).toBe(202);
    expect(started.body.total).toBe(3);
    jobId = started.body.id;

    const job = await waitFor("the suggestion job", async () => {
      const read = await api<{ state: string; suggested: number; failed: number }>(
        `/api/sft/suggestions/${jobId}`,
      );
      return read.body.state === "done" ? read.body : undefined;
    });
    expect(job).toMatchObject({ suggested: 3, failed: 0 });
    expect(llm.requests.every((r) => r.authorization === `Bearer ${LLM_KEY}`)).toBe(true);
  });

  it("shows the suggestion as a word diff against the model's answer", async () => {
    await page.goto(runtime.config.apiUrl);
    await page.getByTestId("queue-card").waitFor();
    expect(await cardId()).toBe(first);
    const suggestion = page.getByTestId("suggestion");
    await suggestion.waitFor();
    expect(await seen(page.getByTestId("suggestion-source"))).toBe(`good · ${SUGGESTION_PROMPT_VERSION}`);
    expect(await suggestion.locator("del").allInnerTexts()).toEqual(["110"]);
    expect((await suggestion.locator("ins").allInnerTexts()).join(" ")).toContain("27.5");
    expect(await seen(page.getByTestId("suggestion-changes"))).toContain("A accepts it as the correction");

    await mkdir(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
  });

  it("A accepts it: the correction is stored with provenance saying it was accepted, by which model and prompt version", async () => {
    await page.keyboard.press("a");
    await expect.poll(() => cardId(), { timeout: WAIT_MS }).not.toBe(first);

    const detail = await api<{
      candidate: Record<string, unknown> & { provenance: Record<string, unknown> };
      history: { action: string; correction_origin?: string }[];
    }>(`/api/sft/candidates/${first}`);
    expect(detail.body.candidate).toMatchObject({ status: "approved", corrected_response: SUGGESTED });
    expect(detail.body.candidate.provenance).toMatchObject({
      approved: true,
      approved_by: "local-reviewer",
      correction_origin: "accepted",
      suggestion_id: jobId,
      suggestion_model: "good",
      suggestion_prompt_version: SUGGESTION_PROMPT_VERSION,
    });
    expect(detail.body.history.at(-1)).toMatchObject({ action: "correct", correction_origin: "accepted" });

    const stats = await api<{ suggestions: Record<string, unknown> }>("/api/sft/stats");
    expect(stats.body.suggestions).toEqual({ accepted: 1, edited: 0, written: 0, acceptance_rate: 1 });
  });

  it("an edited suggestion is recorded as edited", async () => {
    const second = await cardId();
    await page.getByTestId("suggestion").waitFor();
    await page.keyboard.press("c");
    const editor = page.getByTestId("correction");
    await expect.poll(() => editor.inputValue()).toContain("(checked)");
    await editor.fill("A corrected answer, reworded.");
    await page.keyboard.press("Control+Enter");
    await expect.poll(() => cardId(), { timeout: WAIT_MS }).not.toBe(second);

    const detail = await api<{ candidate: { provenance: Record<string, unknown> } }>(
      `/api/sft/candidates/${second}`,
    );
    expect(detail.body.candidate.provenance).toMatchObject({
      correction_origin: "edited",
      suggestion_id: jobId,
    });
    const stats = await api<{ suggestions: Record<string, unknown> }>("/api/sft/stats");
    expect(stats.body.suggestions).toEqual({ accepted: 1, edited: 1, written: 0, acceptance_rate: 0.5 });
  });

  it("never left this machine and raised no page error", () => {
    expect(blocked).toEqual([]);
    expect(logs.filter((line) => line.startsWith("page error"))).toEqual([]);
  });
});
