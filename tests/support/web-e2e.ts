import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";
import { CLEAN_RUN_ID, sampleRunFile } from "../../samples/index.ts";
import { ensureWebBuild } from "../../web/build.ts";

/**
 * What the browser tests (tests/e2e/web-*.test.ts) share: `npm start`'s runtime on a fresh data
 * folder serving the built web UI, a headless Chromium (Debian's, through playwright-core) that may
 * talk to this machine only, and the calls, waits and screenshots into docs/ each suite makes.
 */

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Every wait of a page ends by itself after this long. */
export const WAIT_MS = 15_000;
/** Where the screenshots go: the manuals show them. */
export const DOCS = join(resolve(dirname(fileURLToPath(import.meta.url)), "../.."), "docs");
/** The sample run `flywheel demo` imports, and how many candidates it holds. */
export const SAMPLE_RUN = CLEAN_RUN_ID;
export const SAMPLE_RUN_CANDIDATES = 30;

/** What a reader sees: Playwright's innerText, which honours CSS. */
export const seen = (locator: Locator): Promise<string> => locator.innerText();

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === "data:" || protocol === "blob:") return true;
  return ["127.0.0.1", "localhost", "[::1]"].includes(hostname);
};

export interface WebE2eOptions {
  /** Names the suite's temporary work folder (`/tmp/<name>-XXXXXX`). */
  readonly name: string;
  /** The browser window. Default 1280 × 900. */
  readonly viewport?: { readonly width: number; readonly height: number };
  /**
   * Runs beside the web build, before the runtime starts (a fake model server, say). What it
   * returns is set in the environment the runtime reads, for the suite, and removed after it.
   */
  readonly before?: () => Promise<Record<string, string> | undefined>;
  /** Runs once the runtime is up, before the browser opens: the data the pages show. */
  readonly seed?: () => Promise<void>;
  /** Runs after the browser closes and the runtime stops (to close what `before` started). */
  readonly after?: () => Promise<void>;
  /** How long all of the set-up may take. Default 240 s. */
  readonly setupTimeoutMs?: number;
}

export interface ApiReply<Body> {
  readonly status: number;
  readonly body: Body;
}

export interface WebE2e {
  /** The suite's temporary folder (the runtime's data is in `.flywheel` below it). */
  readonly workDir: string;
  readonly runtime: LocalRuntime;
  readonly page: Page;
  /** The runtime's log lines and the page's errors (`page error: …`), in order. */
  readonly logs: string[];
  /** The addresses off this machine the page asked for (each refused). */
  readonly blocked: string[];
  /** A JSON call to the local API as the local reviewer. */
  api<Body = Record<string, unknown>>(path: string, init?: RequestInit): Promise<ApiReply<Body>>;
  /** A JSON call to the local API with a token of the caller's choosing. */
  call<Body = unknown>(token: string, method: string, path: string, body?: unknown): Promise<ApiReply<Body>>;
  /** Polls `check` until it returns a value; fails after `ms` with the last lines of the logs. */
  waitFor<T>(what: string, check: () => Promise<T | undefined>, ms?: number): Promise<T>;
  /** Writes a run's `sft_candidates.jsonl` to the runs bucket, as a benchmark rig uploads it. */
  putRun(runId: string, body: string | Uint8Array): Promise<void>;
  /** Uploads the sample run and waits until all its candidates await review. */
  importSampleRun(): Promise<void>;
  /** Opens a hash route of the web UI (`#/queue`), or its start page with no argument. */
  open(hash?: string): Promise<void>;
  /** The page's hash route now (`#/exports/…`). */
  hash(): string;
  /**
   * A screenshot into docs/<name>: of the window as it is; with `height: "page"`, the window made
   * as tall as the page (so a fixed footer sits below the content, not over it); with a number,
   * the window that tall, scrolled to the top. The window is given back its size after.
   */
  screenshot(name: string, options?: { readonly height?: number | "page" }): Promise<void>;
  /** Fails if the page asked for anything off this machine or raised an error. */
  expectStayedLocal(): void;
}

/**
 * Registers the suite's `beforeAll` (runtime, data, browser) and `afterAll` (all of it stopped and
 * the work folder removed). `page`, `runtime` and `workDir` are there once `beforeAll` has run.
 */
export function webE2e(options: WebE2eOptions): WebE2e {
  const viewport = options.viewport ?? { width: 1280, height: 900 };
  const logs: string[] = [];
  const blocked: string[] = [];
  let workDir: string | undefined;
  let runtime: LocalRuntime | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let environment: Record<string, string> = {};

  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not there before the suite's beforeAll has run`);
    return value;
  };

  const call = async <Body = unknown>(
    token: string,
    method: string,
    path: string,
    init: RequestInit = {},
  ) => {
    const response = await fetch(`${ready(runtime, "the runtime").config.apiUrl}${path}`, {
      ...init,
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...init.headers },
    });
    return { status: response.status, body: (await response.json().catch(() => null)) as Body };
  };

  const e2e: WebE2e = {
    get workDir() {
      return ready(workDir, "the work folder");
    },
    get runtime() {
      return ready(runtime, "the runtime");
    },
    get page() {
      return ready(page, "the page");
    },
    logs,
    blocked,
    api: (path, init = {}) =>
      call(ready(runtime, "the runtime").config.reviewerToken, init.method ?? "GET", path, init),
    call: (token, method, path, body) =>
      call(token, method, path, body === undefined ? {} : { body: JSON.stringify(body) }),
    async waitFor(what, check, ms = 45_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const value = await check();
        if (value !== undefined) return value;
        if (Date.now() > deadline)
          throw new Error(`${what} did not happen in time\n${logs.slice(-40).join("\n")}`);
        await new Promise((done) => setTimeout(done, 250));
      }
    },
    async putRun(runId, body) {
      const { config } = e2e.runtime;
      const s3 = new S3Client({ region: config.region, endpoint: config.s3Endpoint, forcePathStyle: true });
      await s3.send(
        new PutObjectCommand({
          Bucket: config.bucket,
          Key: `runs/${runId}/sft_candidates.jsonl`,
          Body: body,
        }),
      );
    },
    async importSampleRun() {
      await e2e.putRun(SAMPLE_RUN, await readFile(sampleRunFile(SAMPLE_RUN)));
      await e2e.waitFor(
        "the import of the sample run",
        async () => {
          const stats = await e2e.api<{ by_status?: Record<string, number> } | null>("/api/sft/stats");
          return stats.body?.by_status?.needs_review === SAMPLE_RUN_CANDIDATES ? true : undefined;
        },
        60_000,
      );
    },
    async open(hash) {
      await e2e.page.goto(
        hash === undefined ? e2e.runtime.config.apiUrl : `${e2e.runtime.config.apiUrl}/${hash}`,
      );
    },
    hash: () => new URL(e2e.page.url()).hash,
    async screenshot(name, { height } = {}) {
      const shown = e2e.page;
      const path = join(DOCS, name);
      await mkdir(dirname(path), { recursive: true });
      if (height === undefined) {
        await shown.screenshot({ path });
        return;
      }
      const size = shown.viewportSize() ?? viewport;
      if (height === "page") {
        const tall = await shown
          .locator("html")
          .evaluate((html) => (html as { scrollHeight: number }).scrollHeight);
        await shown.setViewportSize({
          width: size.width,
          height: Math.min(Math.max(tall, size.height), 4000),
        });
      } else {
        await shown.setViewportSize({ width: size.width, height });
        await shown.evaluate("window.scrollTo(0, 0)");
        await shown.waitForTimeout(300);
      }
      await shown.screenshot({ path });
      await shown.setViewportSize(size);
    },
    expectStayedLocal() {
      expect(blocked).toEqual([]);
      expect(logs.filter((line) => line.startsWith("page error"))).toEqual([]);
    },
  };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium), as .ci/run does`,
      );
    }
    workDir = await mkdtemp(join(tmpdir(), `${options.name}-`));
    const [build, env] = await Promise.all([ensureWebBuild(), options.before?.()]);
    logs.push(`web build: ${build}`);
    environment = env ?? {};
    Object.assign(process.env, environment);
    runtime = await startLocalRuntime({
      dataDir: join(workDir, ".flywheel"),
      log: (line) => logs.push(line),
    });
    await options.seed?.();

    context = await chromium.launchPersistentContext(join(workDir, "chromium-profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      acceptDownloads: true,
      viewport,
      timeout: WAIT_MS,
    });
    // The page may talk to this machine only.
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (isLoopback(url)) return route.continue();
      blocked.push(url);
      return route.abort("blockedbyclient");
    });
    context.setDefaultTimeout(WAIT_MS);
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => logs.push(`page error: ${error.message}`));
  }, options.setupTimeoutMs ?? 240_000);

  afterAll(async () => {
    await context?.close();
    await runtime?.stop();
    await options.after?.();
    for (const name of Object.keys(environment)) delete process.env[name];
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  return e2e;
}
