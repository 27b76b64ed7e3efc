import { beforeAll, describe, expect, it, vi } from "vitest";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext, type SqsBatchHandler, sqsEvent, sqsRecord } from "../../support/events.ts";
import { type ApiHandler, callApi } from "../../support/http-events.ts";

const TOKEN = "reviewer-token-for-ingest-quarantine";
const context = lambdaContext("api");
let aws: TestAws;
let api: ApiHandler;
let ingest: SqsBatchHandler;

const call = (query: Record<string, string> = {}) =>
  callApi(api, context, "GET", "/api/sft/ingest/quarantine", { token: TOKEN, query });

const base = { source: "kiwi", task_type: "t", prompt: "p", response: "r", correction: "c", model: "m" };
/** Refused messages, each with the reason it must be quarantined for. */
const REFUSED: [string, string][] = [
  ["not json at all", "invalid_json"],
  ["[1]", "not_an_object"],
  [JSON.stringify({ ...base, correction: "   " }), "blank_correction"],
  [JSON.stringify({ ...base, source: "" }), "empty_source"],
  ["{also not json", "invalid_json"],
  [`{"source": "kiwi", "junk": "${"z".repeat(4_000)}"`, "invalid_json"],
];
const records = REFUSED.map(([body]) => sqsRecord(body));
const reasonOf = new Map(records.map((record, i) => [record.messageId, REFUSED[i]?.[1]]));

beforeAll(async () => {
  aws = await provisionTestAws("ingest-quarantine");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  ({ handler: ingest } = await import("../../../functions/ingest-corrections.ts"));
  api = (await import("../../../functions/api.ts")).handler;
});

describe("GET /api/sft/ingest/quarantine", () => {
  it("answers an empty page before anything was refused", async () => {
    const reply = await call();
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ day: null, days: [], items: [], next_cursor: null });
  });

  it("lists the day's refused messages with reason, detail, a bounded excerpt and counts by reason", async () => {
    const result = await ingest(sqsEvent(...records), lambdaContext("ingest-corrections"));
    expect(result.batchItemFailures).toEqual([]);
    // A redelivery rewrites the same entry: nothing is listed twice.
    await ingest(sqsEvent(records[0] as (typeof records)[0]), lambdaContext("ingest-corrections"));

    const reply = await call();
    expect(reply.status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    expect(reply.body).toMatchObject({
      day: today,
      days: [today],
      counted: REFUSED.length,
      counts_complete: true,
      by_reason: { invalid_json: 3, not_an_object: 1, blank_correction: 1, empty_source: 1 },
      next_cursor: null,
    });
    const items = reply.body.items as Record<string, unknown>[];
    expect(items).toHaveLength(REFUSED.length);
    for (const item of items) expect(item.reason).toBe(reasonOf.get(item.message_id as string));
    const long = items.find((item) => (item.raw_bytes as number) > 4_000) as Record<string, unknown>;
    expect((long.raw_excerpt as string).length).toBe(300);
    expect(long.raw_truncated).toBe(true);
    const blank = items.find((item) => item.reason === "blank_correction") as Record<string, unknown>;
    expect(blank.detail).toMatch(/correction/);
    expect(blank.received_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it("filters by reason and pages with its cursor, each entry once", async () => {
    const filtered = await call({ reason: "invalid_json" });
    expect(filtered.body.items.map((item: { reason: string }) => item.reason)).toEqual([
      "invalid_json",
      "invalid_json",
      "invalid_json",
    ]);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const reply = await call({ limit: "4", ...(cursor ? { cursor } : {}) });
      expect(reply.status).toBe(200);
      expect(reply.body.items.length).toBeLessThanOrEqual(4);
      if (pages > 0) expect(reply.body.by_reason).toBeNull();
      seen.push(...reply.body.items.map((item: { message_id: string }) => item.message_id));
      cursor = reply.body.next_cursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(2);
    expect(seen.sort()).toEqual(records.map((record) => record.messageId).sort());
    const paged = await call({ reason: "invalid_json", limit: "2" });
    const rest = await call({ reason: "invalid_json", limit: "2", cursor: paged.body.next_cursor });
    expect(
      [...paged.body.items, ...rest.body.items].map((item: { message_id: string }) => item.message_id).sort(),
    ).toEqual(
      records
        .filter((record) => reasonOf.get(record.messageId) === "invalid_json")
        .map((r) => r.messageId)
        .sort(),
    );
  });

  it("links each entry's whole file, signed and expiring", async () => {
    const reply = await call({ reason: "not_an_object", expires_in: "60" });
    const [item] = reply.body.items;
    expect(item.download.expires_in).toBe(60);
    const file = await fetch(item.download.url);
    expect(file.status).toBe(200);
    expect(await file.json()).toMatchObject({
      message_id: item.message_id,
      reason: "not_an_object",
      raw: "[1]",
    });
  });

  it("refuses an unknown reason, a malformed day or cursor, and a caller without a token", async () => {
    expect((await call({ reason: "nonsense" })).status).toBe(422);
    expect((await call({ day: "yesterday" })).status).toBe(422);
    expect((await call({ cursor: "garbage" })).status).toBe(422);
    const other = await call({ day: "2020-01-01" });
    expect(other.body).toMatchObject({ day: "2020-01-01", items: [], next_cursor: null });
    expect((await callApi(api, context, "GET", "/api/sft/ingest/quarantine")).status).toBe(401);
  });
});
