import { beforeAll, describe, expect, it, vi } from "vitest";
import { RAW_EXCERPT_CHARS } from "../../../lib/import/domain/run-quarantine.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";
import { uploadRun } from "../../support/review-fixtures.ts";

const TOKEN = "reviewer-token-for-run-quarantine";
const RUN = "2026-07-01-090000-quarantine";
const BIG_RUN = "2026-07-01-100000-big-quarantine";
const context = lambdaContext("api");
let aws: TestAws;
let api: ApiHandler;

const call = (path: string, query: Record<string, string> = {}, request: HttpRequest = {}) =>
  callApi(api, context, "GET", path, { token: TOKEN, query, ...request });

const good = (id: string) =>
  JSON.stringify({ id, prompt_messages: [{ role: "user", content: `q ${id}` }], model_response: "a" });

/** Line by line: what the run holds, and the reason each bad line must be quarantined for. */
const LINES: [string, string | null][] = [
  [good("q-1"), null],
  ["{not json", "invalid_json"],
  ["[1, 2]", "not_an_object"],
  [good("q-2"), null],
  [JSON.stringify({ prompt_messages: [] }), "missing_id"],
  ["", "blank_line"],
  [good("q-1"), "duplicate_id"],
  [`{"id": "long", "junk": ${"9".repeat(5_000)}`, "invalid_json"],
  ["also not json", "invalid_json"],
  [good("q-3"), null],
];
const expected = LINES.flatMap(([, reason], i) => (reason ? [{ line: i + 1, reason }] : []));

beforeAll(async () => {
  aws = await provisionTestAws("run-quarantine");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  api = (await import("../../../functions/api.ts")).handler;
  await uploadRun(aws, RUN, LINES.map(([text]) => text).join("\n"));
  const imported = await callApi(api, context, "POST", "/api/sft/import", {
    token: TOKEN,
    body: { run_id: RUN },
  });
  expect(imported.status).toBe(200);
});

describe("GET /api/sft/runs/{run_id}/quarantine", () => {
  it("lists every quarantined line in line order with its reason, detail and a bounded excerpt, and counts by reason", async () => {
    const reply = await call(`/api/sft/runs/${RUN}/quarantine`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      run_id: RUN,
      state: "completed",
      quarantined: expected.length,
      by_reason: { invalid_json: 3, not_an_object: 1, missing_id: 1, blank_line: 1, duplicate_id: 1 },
      reason: null,
      next_cursor: null,
    });
    expect(reply.body.import_id).toMatch(/^[0-9a-f]{32}$/);
    const items = reply.body.items as { line: number; reason: string; detail: string; raw_excerpt: string }[];
    expect(items.map(({ line, reason }) => ({ line, reason }))).toEqual(expected);
    expect(items.find((item) => item.reason === "duplicate_id")?.detail).toMatch(/line 1/);
    expect(items[0]?.raw_excerpt).toBe("{not json");
    const long = items.find((item) => item.line === 8) as unknown as Record<string, unknown>;
    expect((long.raw_excerpt as string).length).toBe(RAW_EXCERPT_CHARS);
    expect(long.raw_truncated).toBe(true);
    expect(long.raw_chars as number).toBeGreaterThan(RAW_EXCERPT_CHARS);
    expect(reply.body.scanned_bytes).toBe(reply.body.file_bytes);
  });

  it("filters by reason", async () => {
    const reply = await call(`/api/sft/runs/${RUN}/quarantine`, { reason: "invalid_json" });
    expect(reply.status).toBe(200);
    expect(reply.body.items.map((item: { line: number }) => item.line)).toEqual([2, 8, 9]);
    expect(reply.body.reason).toBe("invalid_json");
    // The counts stay those of the whole import.
    expect(reply.body.quarantined).toBe(expected.length);
  });

  it("pages with a byte-offset cursor that reaches every entry exactly once, pinned to the import", async () => {
    const seen: { line: number; reason: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    const first = await call(`/api/sft/runs/${RUN}/quarantine`, { limit: "2" });
    const importId = first.body.import_id as string;
    do {
      const query: Record<string, string> = {
        limit: "2",
        import_id: importId,
        ...(cursor ? { cursor } : {}),
      };
      const reply = await call(`/api/sft/runs/${RUN}/quarantine`, query);
      expect(reply.status).toBe(200);
      expect(reply.body.items.length).toBeLessThanOrEqual(2);
      seen.push(
        ...reply.body.items.map(({ line, reason }: { line: number; reason: string }) => ({ line, reason })),
      );
      cursor = reply.body.next_cursor;
      if (cursor) expect(cursor).toMatch(/^\d+$/);
      pages += 1;
    } while (cursor && pages < 20);
    expect(pages).toBe(Math.ceil(expected.length / 2));
    expect(seen).toEqual(expected);
    // Paging a filter: two invalid_json lines, then the third.
    const filtered = await call(`/api/sft/runs/${RUN}/quarantine`, { reason: "invalid_json", limit: "2" });
    expect(filtered.body.items.map((item: { line: number }) => item.line)).toEqual([2, 8]);
    const rest = await call(`/api/sft/runs/${RUN}/quarantine`, {
      reason: "invalid_json",
      limit: "2",
      cursor: filtered.body.next_cursor,
    });
    expect(rest.body.items.map((item: { line: number }) => item.line)).toEqual([9]);
    expect(rest.body.next_cursor).toBeNull();
  });

  it("hands out the whole file through a signed link that expires", async () => {
    const reply = await call(`/api/sft/runs/${RUN}/quarantine`, { expires_in: "120" });
    const { download } = reply.body;
    expect(download.expires_in).toBe(120);
    expect(Date.parse(download.expires_at) - Date.now()).toBeLessThanOrEqual(120_000);
    expect(download.file_name).toMatch(/\.quarantine\.jsonl$/);
    expect(download.url).toMatch(/X-Amz-Expires=120/);
    const file = await fetch(download.url);
    expect(file.status).toBe(200);
    const entries = (await file.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(entries.map(({ line, reason }: { line: number; reason: string }) => ({ line, reason }))).toEqual(
      expected,
    );
    expect(entries[0]).toMatchObject({ run_id: RUN, raw: "{not json" });
    const tooLong = await call(`/api/sft/runs/${RUN}/quarantine`, { expires_in: "999999" });
    expect(tooLong.status).toBe(422);
  });

  it("refuses what it cannot answer: an unknown reason or run, a cursor inside an entry", async () => {
    expect((await call(`/api/sft/runs/${RUN}/quarantine`, { reason: "nonsense" })).status).toBe(422);
    expect((await call("/api/sft/runs/2026-07-01-never-imported/quarantine")).status).toBe(404);
    const inside = await call(`/api/sft/runs/${RUN}/quarantine`, { cursor: "3" });
    expect(inside.status).toBe(422);
    expect(JSON.stringify(inside.body.detail)).toMatch(/cursor/);
    const past = await call(`/api/sft/runs/${RUN}/quarantine`, { cursor: "99999999" });
    expect(past.status).toBe(422);
    expect((await call(`/api/sft/runs/${RUN}/quarantine`, { import_id: "../../etc" })).status).toBe(422);
    expect((await call(`/api/sft/runs/${RUN}/quarantine`, { import_id: "0".repeat(32) })).status).toBe(404);
    expect((await callApi(api, context, "GET", `/api/sft/runs/${RUN}/quarantine`)).status).toBe(401);
  });

  it("reads a large file a bounded slice at a time: a rare reason is found by following the cursor", async () => {
    // 3,000 bad lines of about 2,000 characters each make a quarantine file of about 6.5 MB; the
    // one missing_id line is the last.
    const filler = Array.from({ length: 3_000 }, (_, i) => `not json ${i} ${"x".repeat(2_000)}`);
    await uploadRun(aws, BIG_RUN, [...filler, JSON.stringify({ prompt_messages: [] })].join("\n"));
    const imported = await callApi(api, context, "POST", "/api/sft/import", {
      token: TOKEN,
      body: { run_id: BIG_RUN },
    });
    expect(imported.status).toBe(200);
    const pages: { items: { line: number }[]; scanned_bytes: number; file_bytes: number }[] = [];
    let cursor: string | null = null;
    do {
      const reply = await call(`/api/sft/runs/${BIG_RUN}/quarantine`, {
        reason: "missing_id",
        ...(cursor ? { cursor } : {}),
      });
      expect(reply.status).toBe(200);
      pages.push(reply.body);
      cursor = reply.body.next_cursor;
    } while (cursor && pages.length < 10);
    expect(pages[0]?.file_bytes).toBeGreaterThan(6_000_000);
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) expect(page.scanned_bytes).toBeLessThanOrEqual(4 * 1024 * 1024 + 20_000);
    expect(pages.flatMap((page) => page.items.map((item) => item.line))).toEqual([3_001]);
    expect(pages.slice(0, -1).every((page) => page.items.length === 0)).toBe(true);
  });
});
