import { randomUUID } from "node:crypto";
import { GetObjectCommand, NoSuchKey } from "@aws-sdk/client-s3";
import { paginateScan } from "@aws-sdk/lib-dynamodb";
import type { SQSRecord } from "aws-lambda";
import fc from "fast-check";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { CANDIDATE_STATUSES } from "../../../lib/common/domain/candidate.ts";
import {
  MAX_COUNTED_LABEL_CHARS,
  MAX_COUNTER_NAME_CHARS,
  reviewStats,
} from "../../../lib/common/domain/stats.ts";
import { EvalSessionIndex } from "../../../lib/eval/adapters/eval-session-index.ts";
import { EvalSessionTable } from "../../../lib/eval/adapters/eval-session-table.ts";
import { S3SessionMessageBlobs } from "../../../lib/eval/adapters/session-blobs.ts";
import type { SessionInput } from "../../../lib/eval/domain/eval-session.ts";
import { ExportFirewall } from "../../../lib/exports/domain/export-firewall.ts";
import { ingestQuarantineKey } from "../../../lib/ingest/adapters/ingest-quarantine.ts";
import {
  CORRECTION_FAULTS,
  type CorrectionFault,
  correctionRecordId,
} from "../../../lib/ingest/domain/correction.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext, type SqsBatchHandler, sqsEvent, sqsRecord } from "../../support/events.ts";
import { type ApiHandler, callApi, type HttpReply } from "../../support/http-events.ts";
import { storedCandidate, storedCounters } from "../../support/steps.ts";

/**
 * Property-based hostile corrections through the real ingest, over HTTP (`POST /api/sft/ingest`
 * through the API function) and on the queue (the ingest function), against the emulators:
 * numbers past 2^53 written literally in `metadata`, nesting past DynamoDB's 32 levels (up to
 * 10,000), names the store cannot take, long ids, keys, sources and models, odd Unicode keys,
 * and idempotency keys used again with another body. Every message ends stored, or refused
 * (4xx with a reason over HTTP) or quarantined with a reason from the fixed set: never a 500,
 * never a failed batch item, never a changed byte of a record stored before. A last property
 * floods every entry path with model names of 5,000 to 60,000 characters and checks that the
 * counters stay readable and hold no name past the cap.
 *
 * Messages are generated as recipes and rendered into JSON text (numbers past 2^53 cannot be
 * written any other way); the expected outcome follows docs/ingest.md. Seeds are fixed.
 */

const SEED = 0xc0ffee;

type QueueHandler = SqsBatchHandler;

const KIWI_TOKEN = `kiwi-${randomUUID()}`;
const REVIEWER_TOKEN = `reviewer-${randomUUID()}`;

let aws: TestAws;
let api: ApiHandler;
let queue: QueueHandler;

const ingestHttp = (body: string, headers: Record<string, string> = {}) =>
  callApi(api, lambdaContext("api"), "POST", "/api/sft/ingest", { token: KIWI_TOKEN, headers, body });

// ─── Records stored before any property, which no later message may change ──────────────────

/** A message whose 400 KB prompt puts its body in S3, ingested on the queue. */
const SEED_QUEUED = {
  source: "kiwi",
  task_type: "seeded",
  prompt: `${"seeded prompt ".repeat(30 * 1024)}end`,
  response: "seeded answer",
  correction: "seeded correction",
  idempotency_key: "hostile-seed-queued",
};
/** A message ingested over HTTP with its key in the Idempotency-Key header. */
const SEED_HTTP = {
  source: "kiwi",
  task_type: "seeded",
  prompt: "How long do I boil an egg?",
  response: "20 minutes",
  correction: "7 to 9 minutes for a hard-boiled egg",
};
const SEED_HTTP_KEY = "hostile-seed-http";

interface Snapshot {
  readonly item: Record<string, unknown> | undefined;
  readonly body: Buffer | null;
}
const seeds = new Map<string, Snapshot>();

async function objectBytes(key: string): Promise<Buffer | null> {
  try {
    const object = await aws.clients.s3.send(
      new GetObjectCommand({ Bucket: aws.resources.bucket, Key: key }),
    );
    return Buffer.from((await object.Body?.transformToByteArray()) ?? new Uint8Array());
  } catch (error) {
    if (error instanceof NoSuchKey) return null;
    throw error;
  }
}

async function snapshot(id: string): Promise<Snapshot> {
  const item = await storedCandidate(aws, id);
  const bodyKey = (item?.body_ref as { key?: string } | undefined)?.key;
  return { item, body: bodyKey ? await objectBytes(bodyKey) : null };
}

async function expectSeedsUntouched() {
  for (const [id, before] of seeds) {
    const after = await snapshot(id);
    expect(after.item, `record ${id}`).toEqual(before.item);
    expect(
      after.body === null ? before.body === null : after.body.equals(before.body ?? Buffer.alloc(0)),
    ).toBe(true);
  }
}

/** Corrections in the whole table, counted by a scan: what the counters must agree with. */
/**
 * Counts the table's candidates: all, approved, and those an `openai-sft` export would deliver
 * (the firewall's own verdict on each record alone, its body read back when kept outside the item).
 */
async function recount() {
  const counts = { total: 0, approved: 0, deliverable: 0 };
  for await (const page of paginateScan(
    { client: aws.clients.dynamodb },
    {
      TableName: aws.resources.tableName,
      FilterExpression: "#type = :candidate",
      ExpressionAttributeNames: { "#type": "type" },
      ExpressionAttributeValues: { ":candidate": "candidate" },
      ConsistentRead: true,
    },
  )) {
    for (const item of page.Items ?? []) {
      counts.total += 1;
      if (item.status === "approved") counts.approved += 1;
      const firewall = new ExportFirewall({ format: "openai-sft", options: {} as never, filters: {} });
      if (firewall.screen(await withBody(item)).passed) counts.deliverable += 1;
    }
  }
  return counts;
}

async function withBody(item: Record<string, unknown>): Promise<Record<string, unknown>> {
  const ref = item.body_ref as { key: string } | undefined;
  if (!ref) return item;
  const object = await aws.clients.s3.send(
    new GetObjectCommand({ Bucket: aws.resources.bucket, Key: ref.key }),
  );
  return { ...item, ...(JSON.parse(await (object.Body?.transformToString() ?? "{}")) as object) };
}

/** The counters hold no name past the cap and agree with a recount of the table. */
async function expectCountersToAgreeWithTheStore() {
  const counters = await storedCounters(aws);
  const overCap = Object.keys(counters).filter((name) => name.length > MAX_COUNTER_NAME_CHARS);
  expect(overCap.map((name) => `${name.slice(0, 40)}… (${name.length})`)).toEqual([]);
  const stats = reviewStats(counters, CANDIDATE_STATUSES);
  const stored = await recount();
  expect(stats.total).toBe(stored.total);
  expect(stats.by_status.approved).toBe(stored.approved);
  // Export-ready is what the export's record rules let through, record by record.
  expect(stats.export_ready).toBe(stored.deliverable);
  const sum = (byDimension: Record<string, number>) => Object.values(byDimension).reduce((a, b) => a + b, 0);
  expect(sum(stats.by_model)).toBe(stored.total);
  expect(sum(stats.by_source)).toBe(stored.total);
  return stats;
}

beforeAll(async () => {
  aws = await provisionTestAws("hostile-corrections");
  for (const [name, value] of Object.entries({
    ...aws.env,
    INGEST_TOKENS: JSON.stringify({ kiwi: KIWI_TOKEN }),
    REVIEWER_TOKEN,
  }))
    vi.stubEnv(name, value);
  ({ handler: api } = await import("../../../functions/api.ts"));
  ({ handler: queue } = await import("../../../functions/ingest-corrections.ts"));

  const queued = sqsRecord(JSON.stringify(SEED_QUEUED));
  expect((await queue(sqsEvent(queued), lambdaContext())).batchItemFailures).toEqual([]);
  const queuedId = correctionRecordId("kiwi", SEED_QUEUED.idempotency_key, queued.messageId);
  const overHttp = await ingestHttp(JSON.stringify(SEED_HTTP), { "Idempotency-Key": SEED_HTTP_KEY });
  expect(overHttp.status).toBe(200);
  seedIdsByKey.set(SEED_QUEUED.idempotency_key, queuedId);
  seedIdsByKey.set(SEED_HTTP_KEY, overHttp.body.id as string);
  for (const id of seedIdsByKey.values()) seeds.set(id, await snapshot(id));
  // The queued seed's prompt is too big for an item: its body is in S3, and must never change.
  expect(seeds.get(queuedId)?.body?.length).toBeGreaterThan(300 * 1024);
});

// ─── Recipes ────────────────────────────────────────────────────────────────────────────────

/** A counted label (task type, model): short, odd, exactly at the cap, or just past it. */
const label = fc.oneof(
  { arbitrary: fc.constantFrom("recipe", "Qwen2.5-3B", "email"), weight: 4 },
  fc.constantFrom("", "\ud800lone", "名前", "m".repeat(256), "m".repeat(257)),
  fc.string({ unit: "binary", maxLength: 24 }),
);

/** Idempotency keys: plain, odd Unicode (emoji, right-to-left, lone surrogates, NUL), padded, long. */
const keySuffix = fc.oneof(
  { arbitrary: fc.constant(""), weight: 4 },
  fc.constantFrom("-😀", "-\u200f\u202e", "-\ud800", "-a\u0000b", "  ", "-é"),
  fc.string({ unit: "binary", maxLength: 10 }).map((s) => `-${s}`),
  fc.integer({ min: 230, max: 280 }).map((n) => `-${"k".repeat(n)}`),
);

const metadataKey = fc.oneof(
  { arbitrary: fc.string({ minLength: 1, maxLength: 8 }), weight: 8 },
  fc.constantFrom("", "__proto__", "constructor", "toString", " ", "\u0000", "\ud800"),
);
const metadata = fc.dictionary(
  metadataKey,
  fc.oneof(fc.integer(), fc.string({ maxLength: 12 }), fc.boolean(), fc.constant(null)),
  { maxKeys: 4 },
);

const good = fc.record({
  kind: fc.constant("good" as const),
  keySlot: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
  keySuffix,
  /** Over HTTP, the key goes in the Idempotency-Key header rather than the body. */
  keyInHeader: fc.boolean(),
  taskType: label,
  model: fc.option(label, { nil: undefined }),
  prompt: fc.string({ unit: "binary", minLength: 1, maxLength: 30 }).map((s) => `q ${s}`),
  response: fc.string({ maxLength: 30 }),
  correction: fc.string({ unit: "binary", maxLength: 30 }).map((s) => `fix ${s}`),
  label: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
  metadata: fc.option(metadata, { nil: undefined }),
});

const hostileNumber = fc.record({
  kind: fc.constant("number" as const),
  literal: fc.constantFrom("1e16", "1e300", "-1e300", "123456789012345678901", "9007199254740993", "1e-200"),
  where: fc.constantFrom("metadata", "extra"),
});

const deep = fc.record({
  kind: fc.constant("deep" as const),
  depth: fc.oneof(fc.integer({ min: 27, max: 40 }), fc.constant(10_000)),
  where: fc.constantFrom("metadata", "extra"),
});

const longField = fc.record({
  kind: fc.constant("long" as const),
  field: fc.constantFrom("source", "task_type", "model", "idempotency_key", "metadata key"),
  length: fc.oneof(fc.integer({ min: 257, max: 400 }), fc.integer({ min: 66_000, max: 70_000 })),
});

const oddName = fc.record({
  kind: fc.constant("oddName" as const),
  metadata: fc.constantFrom(
    '{"": 1}',
    '{"a": {"": null}}',
    '{"__proto__": 0}',
    '{"constructor": {"name": "Map"}}',
    '{"constructor": {"name": "String"}, "x": 1}',
    '{"list": [{"constructor": true}]}',
  ),
});

const junk = fc.record({
  kind: fc.constant("junk" as const),
  body: fc.constantFrom(
    ["not json {", "invalid_json"],
    ["[]", "not_an_object"],
    ["null", "not_an_object"],
    ['"a correction"', "not_an_object"],
    ['{"schema_version": 2}', "unsupported_schema_version"],
    ['{"source": " "}', "empty_source"],
    ['{"correction": "  "}', "blank_correction"],
    ['{"failure_category": "nope"}', "unknown_failure_category"],
    ['{"prompt_messages": [{"role": "user", "content": "q"}]}', "ambiguous_prompt"],
    ['{"prompt": null}', "missing_prompt"],
  ),
});

/** A key used before, by a seed, with the same body (a retry) or another one (a conflict). */
const seedReuse = fc.record({ kind: fc.constant("seed" as const), sameBody: fc.boolean() });

/** The same body, key and all, sent again (a retry; on the queue, a redelivery). */
const retry = fc.record({ kind: fc.constant("retry" as const), of: fc.nat() });

const anyMessage = fc.oneof(
  { arbitrary: good, weight: 6 },
  { arbitrary: hostileNumber, weight: 2 },
  { arbitrary: deep, weight: 2 },
  { arbitrary: longField, weight: 2 },
  { arbitrary: oddName, weight: 2 },
  { arbitrary: junk, weight: 2 },
  { arbitrary: seedReuse, weight: 1 },
  { arbitrary: retry, weight: 1 },
);
type Recipe = typeof anyMessage extends fc.Arbitrary<infer R> ? R : never;

const messages = fc.tuple(good, fc.array(anyMessage, { maxLength: 9 }), fc.nat()).map(([first, rest, at]) => {
  const all: Recipe[] = [...rest];
  all.splice(at % (rest.length + 1), 0, first);
  return all;
});

/** What must become of a message: stored (or the same record again), a conflict, or refused. */
type Expected =
  | { readonly outcome: "stored"; readonly correction: string; readonly metadata: unknown }
  | { readonly outcome: "conflict" }
  /** `where` is a field the refusal names; `header` a header HTTP cannot carry (a 400). */
  | { readonly outcome: "refused"; readonly reason: CorrectionFault; readonly where?: string };

interface Rendered {
  readonly body: string;
  /** The Idempotency-Key header to send, as generated (HTTP only). */
  readonly header?: string;
  /** The idempotency key the record id is made of (trimmed), if any. */
  readonly key?: string;
  readonly expected: Expected;
}

const base = (overrides: Record<string, unknown> = {}) => ({
  source: "kiwi",
  task_type: "hostile",
  prompt: "a question",
  response: "an answer",
  correction: "a better answer",
  ...overrides,
});

/** The body with `fields` (JSON text) added at its end: how literal numbers reach the parser. */
const withFields = (body: Record<string, unknown>, fields: string) =>
  `${JSON.stringify(body).slice(0, -1)}, ${fields}}`;

/** JSON with every object's keys sorted: two bodies that say the same thing say it alike. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((name) => `${JSON.stringify(name)}:${canonical((value as Record<string, unknown>)[name])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/** What a body says, its idempotency key aside: equal for a retry, different for a conflict. */
function contentOf(body: string): string {
  const { idempotency_key: _key, ...content } = JSON.parse(body) as Record<string, unknown>;
  return canonical(content);
}

const unstorableName = (name: string) => name === "" || name === "__proto__" || name === "constructor";
/** What the web Headers API refuses in a value: a character above U+00FF, NUL, CR or LF. */
const unsendable = (value: string) =>
  [...value].some(
    (char) => (char.codePointAt(0) ?? 0) > 0xff || char === "\0" || char === "\r" || char === "\n",
  );

function refused(reason: CorrectionFault, where?: string): Expected {
  return { outcome: "refused", reason, ...(where ? { where } : {}) };
}

/**
 * Renders the recipes into bodies, with what each must become given the ones before it: the first
 * use of a key stores, the same content again is the same record, other content is a conflict.
 */
function render(recipes: readonly Recipe[], prefix: string, channel: "http" | "queue"): Rendered[] {
  const used = new Map<string, string>([
    [SEED_HTTP_KEY, contentOf(JSON.stringify(SEED_HTTP))],
    [SEED_QUEUED.idempotency_key, contentOf(JSON.stringify(SEED_QUEUED))],
  ]);
  const rendered: Rendered[] = [];
  const keyed = (body: string, key: string | undefined, header?: string): Rendered => {
    const { correction, metadata } = JSON.parse(body) as { correction: string; metadata?: unknown };
    let expected: Expected = { outcome: "stored", correction, metadata };
    if (key !== undefined) {
      const content = contentOf(body);
      const before = used.get(key);
      if (before !== undefined && before !== content) expected = { outcome: "conflict" };
      else used.set(key, content);
    }
    return {
      body,
      ...(header !== undefined ? { header } : {}),
      ...(key !== undefined ? { key } : {}),
      expected,
    };
  };
  for (const [index, recipe] of recipes.entries()) {
    const own = `${prefix}-m${index}`;
    switch (recipe.kind) {
      case "good": {
        const rawKey = recipe.keySlot === undefined ? own : `${prefix}-k${recipe.keySlot}${recipe.keySuffix}`;
        const inHeader = channel === "http" && recipe.keyInHeader;
        const body = JSON.stringify({
          ...base({ task_type: recipe.taskType, prompt: recipe.prompt, response: recipe.response }),
          correction: recipe.correction,
          model: recipe.model,
          label: recipe.label,
          metadata: recipe.metadata,
          ...(inHeader ? {} : { idempotency_key: rawKey }),
        });
        const header = inHeader ? rawKey : undefined;
        const key = rawKey.trim();
        const refusal =
          header !== undefined && unsendable(header)
            ? refused("invalid_field", "header")
            : recipe.metadata && Object.keys(recipe.metadata).some(unstorableName)
              ? refused("invalid_field", "metadata")
              : recipe.taskType.length > MAX_COUNTED_LABEL_CHARS
                ? refused("invalid_field", "task_type")
                : (recipe.model?.length ?? 0) > MAX_COUNTED_LABEL_CHARS
                  ? refused("invalid_field", "model")
                  : key.length > 256
                    ? refused("invalid_field", inHeader ? "Idempotency-Key" : "idempotency_key")
                    : // A blank key field is refused; a blank header is no key (the request names the record).
                      key === "" && !inHeader
                      ? refused("invalid_field", "idempotency_key")
                      : undefined;
        rendered.push(
          refusal
            ? { body, ...(header !== undefined ? { header } : {}), expected: refusal }
            : keyed(body, key === "" ? undefined : key, header),
        );
        break;
      }
      case "number": {
        const fields =
          recipe.where === "metadata"
            ? `"metadata": {"n": ${recipe.literal}}`
            : `"extra": [1, {"big": ${recipe.literal}}]`;
        rendered.push({
          body: withFields(base({ idempotency_key: own }), fields),
          expected: refused("invalid_field", recipe.where),
        });
        break;
      }
      case "deep": {
        const nested = `${"[".repeat(recipe.depth)}${"]".repeat(recipe.depth)}`;
        // `metadata` is a map, so its `a` is one level down; `extra`, an unknown field, is kept one
        // level down too, under `extra_fields`. DynamoDB holds 31 levels below the item.
        const fields = recipe.where === "metadata" ? `"metadata": {"a": ${nested}}` : `"extra": ${nested}`;
        const containers = recipe.depth + 1;
        const body = withFields(base({ idempotency_key: own }), fields);
        rendered.push(
          containers >= 32 ? { body, expected: refused("invalid_field", recipe.where) } : keyed(body, own),
        );
        break;
      }
      case "long": {
        // A field name must pass 64 KB to be refused; the other fields stop at 128 or 256 characters.
        const long = "x".repeat(
          recipe.field === "metadata key" ? 65_536 + (recipe.length % 4_000) : recipe.length,
        );
        const body =
          recipe.field === "metadata key"
            ? JSON.stringify(base({ idempotency_key: own, metadata: { [long]: 1 } }))
            : JSON.stringify(base({ idempotency_key: own, [recipe.field]: long }));
        rendered.push({
          body,
          expected: refused("invalid_field", recipe.field === "metadata key" ? "metadata" : recipe.field),
        });
        break;
      }
      case "oddName":
        rendered.push({
          body: withFields(base({ idempotency_key: own }), `"metadata": ${recipe.metadata}`),
          expected: refused("invalid_field", "metadata"),
        });
        break;
      case "junk": {
        const text = recipe.body[0];
        const reason = recipe.body[1];
        // A fragment is laid over a valid message, so it alone decides the refusal.
        const body = text.startsWith("{")
          ? JSON.stringify({ ...base({ idempotency_key: own }), ...JSON.parse(text) })
          : text;
        rendered.push({ body, expected: refused(reason as CorrectionFault) });
        break;
      }
      case "seed": {
        const seed = channel === "http" ? SEED_HTTP : SEED_QUEUED;
        const message = recipe.sameBody ? seed : { ...seed, correction: `another correction from ${own}` };
        rendered.push(
          channel === "http"
            ? keyed(JSON.stringify(message), SEED_HTTP_KEY, SEED_HTTP_KEY)
            : keyed(JSON.stringify(message), SEED_QUEUED.idempotency_key),
        );
        break;
      }
      case "retry": {
        const earlier = rendered.filter((message) => message.expected.outcome === "stored" && message.key);
        const again = earlier[recipe.of % Math.max(earlier.length, 1)];
        if (again) rendered.push({ ...again });
        break;
      }
    }
  }
  return rendered;
}

/** The stored record says what the message said. */
async function expectStoredAs(id: string, expected: Extract<Expected, { outcome: "stored" }>) {
  const item = await storedCandidate(aws, id);
  expect(item, `record ${id}`).toBeDefined();
  expect(item?.status).toBe("approved");
  expect(item?.corrected_response).toBe(expected.correction);
  expect(item?.metadata ?? undefined).toEqual(expected.metadata ?? undefined);
}

/** The records stored before, by the key that made them: a later use of the key names them. */
const seedIdsByKey = new Map<string, string>();

let iteration = 0;

describe("POST /api/sft/ingest against hostile bodies (property-based, emulators)", () => {
  it("answers 200 or a 4xx with its reason, never a 500; stores what it accepts; changes no earlier record", async () => {
    await fc.assert(
      fc.asyncProperty(messages, async (recipes) => {
        iteration += 1;
        const bodies = render(recipes, `http${iteration}`, "http");
        const before = await storedCounters(aws);
        const idOfKey = new Map(seedIdsByKey);
        let newRecords = 0;

        for (const message of bodies) {
          const reply: HttpReply = await ingestHttp(
            message.body,
            message.header !== undefined ? { "Idempotency-Key": message.header } : {},
          );
          const { expected } = message;
          const what = `${message.body.slice(0, 160)} (${reply.status}: ${JSON.stringify(reply.body).slice(0, 200)})`;

          expect(reply.status, what).toBeLessThan(500);
          if (expected.outcome === "refused" && expected.where === "header") {
            expect(reply.status, what).toBe(400);
            expect(reply.body.detail).toContain("Idempotency-Key");
            continue;
          }
          if (expected.outcome === "refused") {
            expect(reply.status, what).toBe(422);
            const issues = reply.body.detail as { loc: (string | number)[]; type: string }[];
            for (const issue of issues) expect(CORRECTION_FAULTS).toContain(issue.type);
            expect(issues.map((issue) => issue.type)).toContain(expected.reason);
            if (expected.where)
              expect(issues.flatMap((issue) => issue.loc).map(String), what).toContain(expected.where);
            continue;
          }
          const first = message.key !== undefined ? idOfKey.get(message.key) : undefined;
          if (expected.outcome === "conflict") {
            expect(reply.status, what).toBe(409);
            expect(reply.body.detail).toContain(first);
            continue;
          }
          expect(reply.status, what).toBe(200);
          const id = reply.body.id as string;
          if (first !== undefined) {
            expect(id).toBe(first);
            continue;
          }
          if (message.key !== undefined) idOfKey.set(message.key, id);
          newRecords += 1;
          await expectStoredAs(id, expected);
        }

        const after = await storedCounters(aws);
        expect((after.total ?? 0) - (before.total ?? 0)).toBe(newRecords);
        await expectCountersToAgreeWithTheStore();
        await expectSeedsUntouched();
      }),
      { seed: SEED, numRuns: 20, interruptAfterTimeLimit: 150_000, markInterruptAsFailure: true },
    );
  }, 240_000);
});

interface QuarantineEntry {
  readonly message_id: string;
  readonly reason: string;
  readonly detail: string;
}

/** The quarantine entry of a queued message, if it was quarantined. */
async function quarantined(record: SQSRecord): Promise<QuarantineEntry | null> {
  const receivedAt = new Date(Number(record.attributes.SentTimestamp)).toISOString();
  const bytes = await objectBytes(ingestQuarantineKey(record.messageId, receivedAt));
  return bytes ? (JSON.parse(bytes.toString("utf8")) as QuarantineEntry) : null;
}

describe("the corrections queue against hostile messages (property-based, emulators)", () => {
  it("acknowledges every message of a batch: each stored once or quarantined with its reason; no earlier record changes", async () => {
    await fc.assert(
      fc.asyncProperty(messages, async (recipes) => {
        iteration += 1;
        const rendered = render(recipes, `sqs${iteration}`, "queue");
        const records = rendered.map((message) => sqsRecord(message.body));
        const before = await storedCounters(aws);

        const result = await queue(sqsEvent(...records), lambdaContext("ingest-corrections"));

        expect(result.batchItemFailures).toEqual([]);
        const idOfKey = new Map(seedIdsByKey);
        let newRecords = 0;
        for (const [index, message] of rendered.entries()) {
          const record = records[index] as SQSRecord;
          const entry = await quarantined(record);
          const { expected } = message;
          const what = `${message.body.slice(0, 160)} (${JSON.stringify(entry)?.slice(0, 300)})`;
          if (entry) expect(CORRECTION_FAULTS).toContain(entry.reason);
          if (expected.outcome === "refused") {
            expect(entry?.reason, what).toBe(expected.reason);
            expect(entry?.message_id).toBe(record.messageId);
            if (expected.where) expect(entry?.detail, what).toContain(expected.where);
            continue;
          }
          if (expected.outcome === "conflict") {
            expect(entry?.reason, what).toBe("idempotency_conflict");
            continue;
          }
          expect(entry, what).toBeNull();
          const id = correctionRecordId("kiwi", message.key, record.messageId);
          if (message.key !== undefined && idOfKey.has(message.key)) {
            expect(id).toBe(idOfKey.get(message.key));
            continue;
          }
          if (message.key !== undefined) idOfKey.set(message.key, id);
          newRecords += 1;
          await expectStoredAs(id, expected);
        }

        const after = await storedCounters(aws);
        expect((after.total ?? 0) - (before.total ?? 0)).toBe(newRecords);
        await expectCountersToAgreeWithTheStore();
        await expectSeedsUntouched();
      }),
      { seed: SEED + 1, numRuns: 20, interruptAfterTimeLimit: 150_000, markInterruptAsFailure: true },
    );
  }, 240_000);
});

// ─── Counter poisoning: labels of 5,000 to 60,000 characters on every entry path ───────────────

const longLabel = fc.record({
  field: fc.constantFrom("model", "task_type", "source"),
  length: fc.integer({ min: 5_000, max: 60_000 }),
  fill: fc.constantFrom("m", "é", "😀"),
});
const poisonedBody = (label: { field: string; length: number; fill: string }, key: string) =>
  JSON.stringify(
    base({ idempotency_key: key, [label.field]: label.fill.repeat(label.length / label.fill.length) }),
  );

const reviewerApi = (method: string, path: string, body?: unknown) =>
  callApi(api, lambdaContext("api"), method, path, { token: REVIEWER_TOKEN, ...(body ? { body } : {}) });

const sessionWith = (id: string, model: string) => ({
  id,
  profile_id: "hostile",
  name: "poisoned",
  created_at: "2026-06-01T09:00:00Z",
  pinned: false,
  messages: [
    { role: "user", content: "hello" },
    { role: "assistant", content: "hi", model },
  ],
});

describe("counters against labels of 5,000 to 60,000 characters (property-based, emulators)", () => {
  it("refuses every long label on the queue, over HTTP and from eval sessions; stats stay readable and capped", async () => {
    const sessions = new EvalSessionTable(
      aws.clients.dynamodb,
      aws.resources.tableName,
      new S3SessionMessageBlobs(aws.clients.s3, aws.resources.bucket),
      new EvalSessionIndex(aws.clients.dynamodb, aws.resources.tableName),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(longLabel, { minLength: 9, maxLength: 9 }),
        fc.array(longLabel, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 5_000, max: 60_000 }),
        async (queued, overHttp, modelLength) => {
          iteration += 1;
          const prefix = `poison${iteration}`;
          const before = await storedCounters(aws);

          // The queue: nine poisoned messages and one at the cap in one batch.
          const atCap = sqsRecord(
            JSON.stringify(base({ idempotency_key: `${prefix}-cap`, model: "c".repeat(256) })),
          );
          const records = [
            ...queued.map((label, i) => sqsRecord(poisonedBody(label, `${prefix}-q${i}`))),
            atCap,
          ];
          expect((await queue(sqsEvent(...records), lambdaContext())).batchItemFailures).toEqual([]);
          for (const [i, label] of queued.entries()) {
            const entry = await quarantined(records[i] as SQSRecord);
            expect(entry).toMatchObject({ reason: "invalid_field" });
            expect(entry?.detail).toContain(label.field);
          }
          expect(await quarantined(atCap)).toBeNull();

          // HTTP: each one a 422 naming the field.
          for (const [i, label] of overHttp.entries()) {
            const reply = await ingestHttp(poisonedBody(label, `${prefix}-h${i}`));
            expect(reply.status).toBe(422);
            expect(reply.body.detail).toContainEqual(
              expect.objectContaining({ loc: ["body", label.field], type: "invalid_field" }),
            );
          }

          // Eval: a session naming a long model is refused, and one stored before the cap existed
          // (written past the schema) cannot turn its answer into a counted candidate.
          const model = "m".repeat(modelLength);
          const refusedSession = await reviewerApi(
            "POST",
            "/api/eval/sessions",
            sessionWith(`${prefix}-s`, model),
          );
          expect(refusedSession.status).toBe(422);
          const legacyId = `${prefix}-legacy`;
          await sessions.upsert(
            { ...sessionWith(legacyId, model), last_active: "2026-06-01T09:00:00.000Z" } as SessionInput,
            new Date().toISOString(),
          );
          const candidate = await reviewerApi("POST", `/api/eval/sessions/${legacyId}/candidates`, {
            message_index: 1,
          });
          expect(candidate.status).toBeGreaterThanOrEqual(400);
          expect(candidate.status).toBeLessThan(500);

          // Only the correction at the cap was counted; stats and the provenance report still read.
          const after = await storedCounters(aws);
          expect((after.total ?? 0) - (before.total ?? 0)).toBe(1);
          await expectCountersToAgreeWithTheStore();
          const stats = await reviewerApi("GET", "/api/sft/stats");
          expect(stats.status).toBe(200);
          for (const dimension of [stats.body.by_model, stats.body.by_task_type, stats.body.by_source]) {
            const longest = Math.max(...Object.keys(dimension).map((name) => name.length));
            expect(longest).toBeLessThanOrEqual(MAX_COUNTED_LABEL_CHARS);
          }
          expect(stats.body.by_model["c".repeat(256)]).toBeGreaterThan(0);
          expect((await reviewerApi("GET", "/api/provenance/report")).status).toBe(200);
          await expectSeedsUntouched();
        },
      ),
      { seed: SEED + 2, numRuns: 4, interruptAfterTimeLimit: 100_000, markInterruptAsFailure: true },
    );
  }, 180_000);
});
