import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";
import { ensureWebBuild } from "../../web/build.ts";
import { expectAccessible } from "../support/axe.ts";

/**
 * Double review driven against `npm start`'s runtime: the operator (an admin) sets a policy of two
 * reviews, the operator and the local admin role vote on two candidates (agreeing on one,
 * disagreeing on the other) through the API, and the Reviewers page in headless Chromium shows
 * their numbers and agreement, passes axe-core, and settles the disagreement by one vote.
 */

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");
const RUN = "2026-05-03-090000-double";
const SOURCE = "e2e-double";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WAIT_MS = 15_000;

const LINES = [1, 2, 3].map((i) =>
  JSON.stringify({
    id: `${RUN}-${i}`,
    source: SOURCE,
    benchmark_run_id: RUN,
    task_type: "arithmetic",
    model_name: "Qwen2.5-3B",
    prompt_messages: [{ role: "user", content: `What is ${i} + ${i}?` }],
    model_response: `${i * 3}`,
  }),
);

let workDir: string;
let runtime: LocalRuntime;
let context: BrowserContext;
let page: Page;
const logs: string[] = [];

const call = async <Body = unknown>(token: string, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${runtime.config.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json().catch(() => null)) as Body };
};

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium), as .ci/run does`,
    );
  }
  const [build] = await Promise.all([
    ensureWebBuild(),
    (async () => {
      workDir = await mkdtemp(join(tmpdir(), "flywheel-web-reviewers-"));
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
      Body: LINES.join("\n"),
    }),
  );
  const operator = runtime.config.reviewerToken;
  // The operator is `local-reviewer`, as is the reviewer role; the admin role is another person, `local-admin`.
  const reviewer = runtime.config.roleTokens?.admin as string;
  expect((await call(operator, "POST", "/api/sft/import", { run_id: RUN })).status).toBe(200);
  expect(
    (
      await call(operator, "POST", "/api/sft/review-policy", {
        rules: [{ source: SOURCE, reviews_required: 2 }],
      })
    ).status,
  ).toBe(200);
  // Agree on the first candidate, disagree on the second.
  for (const [id, mine, theirs] of [
    [`${RUN}-1`, { action: "discard" }, { action: "discard" }],
    [`${RUN}-2`, { action: "correct", corrected_response: "4" }, { action: "flag" }],
  ] as const) {
    expect((await call(operator, "POST", "/api/sft/submit", { id, ...mine })).status).toBe(200);
    expect((await call(reviewer, "POST", "/api/sft/submit", { id, ...theirs })).status).toBe(200);
  }

  context = await chromium.launchPersistentContext(join(workDir, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
    ],
    viewport: { width: 1280, height: 900 },
    timeout: WAIT_MS,
  });
  await context.route("**/*", (route) => {
    const { hostname } = new URL(route.request().url());
    return ["127.0.0.1", "localhost"].includes(hostname) ? route.continue() : route.abort("blockedbyclient");
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

describe("the Reviewers page in Chromium", () => {
  it("shows numbers and agreement, passes axe-core, and settles an adjudication by one reviewer's vote", async () => {
    await page.goto(`${runtime.config.apiUrl}/#/reviewers`);
    const agreement = page.locator("section[aria-labelledby='agreement-heading']");
    await agreement.getByText("2 double reviews").waitFor();
    expect(await agreement.innerText()).toMatch(/1 agreed, 0 adjudicated, 1 awaiting adjudication/);
    expect(await agreement.innerText()).toMatch(/Agreement 50% of 2 pairs/);
    const rows = page.locator("section[aria-labelledby='numbers-heading'] tbody tr");
    expect(await rows.count()).toBe(2);
    const decide = page.getByRole("button", { name: /^Decide as / }).first();
    await decide.waitFor();
    await expectAccessible(page, "the reviewers page");

    const path = join(repoRoot, "docs", "reviewers.png");
    await mkdir(dirname(path), { recursive: true });
    // The window as tall as the page, so the fixed footer sits below what is shown.
    const height = await page
      .locator("html")
      .evaluate((html) => (html as { scrollHeight: number }).scrollHeight);
    await page.setViewportSize({ width: 1280, height: Math.min(height + 80, 4000) });
    await page.screenshot({ path });
    await page.setViewportSize({ width: 1280, height: 900 });

    await decide.click();
    await page.getByText("Nothing awaits adjudication.").waitFor();
    const settled = await call<{ candidate: { status: string }; history: { settled_by?: string }[] }>(
      runtime.config.reviewerToken,
      "GET",
      `/api/sft/candidates/${RUN}-2`,
    );
    expect(settled.body.candidate.status).toBe("approved");
    expect(settled.body.history.at(-1)).toMatchObject({ settled_by: "adjudication" });
  }, 120_000);
});
