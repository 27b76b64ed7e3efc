import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { paginateScan } from "@aws-sdk/lib-dynamodb";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { CANDIDATE_STATUSES } from "../../../lib/common/domain/candidate.ts";
import { MAX_COUNTER_NAME_CHARS, reviewStats } from "../../../lib/common/domain/stats.ts";
import { QUARANTINE_REASONS, type QuarantineReason } from "../../../lib/import/domain/run-line.ts";
import type { RunCounts } from "../../../lib/import/ports.ts";
import { type ImportRunDeps, importRun } from "../../../lib/import/usecases/import-run.ts";
import { importRunDeps } from "../../../lib/import/wiring.ts";
import { candidatesOfRun, provisionTestAws, type TestAws } from "../../support/aws.ts";
import { storedCandidate, storedCounters, storedRun } from "../../support/steps.ts";

/**
 * Property-based hostile inputs through the real import (S3 emulator + DynamoDB Local): run files
 * mixing good lines with numbers past 2^53 written literally, nesting past DynamoDB's 32 levels (up
 * to 10,000), long and odd Unicode ids, counted fields past their cap, prompts of hundreds of KB,
 * repeated ids and ids of earlier runs. Whatever a run holds, the import completes, every line ends
 * stored, skipped or quarantined with its number and a reason from the fixed set, the counters
 * agree with the stored candidates, and a candidate stored before is untouched, item and body.
 *
 * Each line is generated as a recipe and rendered into JSON text, so a failure prints the recipe;
 * the expected outcome of a line follows the documented contract (docs/import.md). Seeds are
 * fixed and runs bounded, so every run explores the same inputs.
 */

const SEED = 0x1f00d;

let aws: TestAws;
let deps: ImportRunDeps;

/** The run imported before any property: one candidate whose body lives in S3, one inline. */
const SEED_RUN = "hostile-seed-run";
const SEEDS = {
  huge: {
    id: "hostile-seed-huge",
    prompt: `${"seed prompt ".repeat(30 * 1024)}end`,
    response: "the seeded answer",
  },
  small: { id: "hostile-seed-small", prompt: "What is 6 × 7?", response: "42" },
} as const;
type SeedName = keyof typeof SEEDS;
const seedLine = (name: SeedName, response: string = SEEDS[name].response) =>
  JSON.stringify({
    id: SEEDS[name].id,
    model_name: "seed-model",
    prompt_messages: [{ role: "user", content: SEEDS[name].prompt }],
    model_response: response,
  });

interface Snapshot {
  readonly item: Record<string, unknown> | undefined;
  readonly body: Buffer | null;
}
const seedSnapshots = new Map<SeedName, Snapshot>();

async function objectBytes(key: string): Promise<Buffer> {
  const object = await aws.clients.s3.send(new GetObjectCommand({ Bucket: aws.resources.bucket, Key: key }));
  return Buffer.from((await object.Body?.transformToByteArray()) ?? new Uint8Array());
}

async function snapshot(id: string): Promise<Snapshot> {
  const item = await storedCandidate(aws, id);
  const bodyKey = (item?.body_ref as { key?: string } | undefined)?.key;
  return { item, body: bodyKey ? await objectBytes(bodyKey) : null };
}

let uploads = 0;
async function uploadAndImport(runId: string, text: string) {
  uploads += 1;
  const key = `runs/${runId}/sft_candidates.jsonl`;
  await aws.clients.s3.send(
    new PutObjectCommand({ Bucket: aws.resources.bucket, Key: key, Body: Buffer.from(text, "utf8") }),
  );
  return importRun(deps, { bucket: aws.resources.bucket, key, sequencer: String(uploads) });
}

interface QuarantineEntry {
  readonly run_id: string;
  readonly line: number;
  readonly reason: string;
  readonly detail: string;
  readonly raw: string;
}

async function quarantineEntries(key: string | null): Promise<QuarantineEntry[]> {
  if (!key) return [];
  return (await objectBytes(key))
    .toString("utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as QuarantineEntry);
}

/** Candidates in the whole table, counted by a scan: what the counters must agree with. */
async function countStoredCandidates(): Promise<{ total: number; needsReview: number }> {
  let total = 0;
  let needsReview = 0;
  for await (const page of paginateScan(
    { client: aws.clients.dynamodb },
    {
      TableName: aws.resources.tableName,
      FilterExpression: "#type = :candidate",
      ExpressionAttributeNames: { "#type": "type", "#status": "status" },
      ExpressionAttributeValues: { ":candidate": "candidate" },
      ProjectionExpression: "#status",
      ConsistentRead: true,
    },
  )) {
    for (const item of page.Items ?? []) {
      total += 1;
      if (item.status === "needs_review") needsReview += 1;
    }
  }
  return { total, needsReview };
}

/** The counters read as `GET /api/sft/stats` reads them, checked against a recount. */
async function expectCountersToAgreeWithTheStore() {
  const counters = await storedCounters(aws);
  const overCap = Object.keys(counters).filter((name) => name.length > MAX_COUNTER_NAME_CHARS);
  expect(overCap.map((name) => `${name.slice(0, 40)}… (${name.length})`)).toEqual([]);
  const stats = reviewStats(counters, CANDIDATE_STATUSES);
  const stored = await countStoredCandidates();
  expect(stats.total).toBe(stored.total);
  expect(stats.by_status.needs_review).toBe(stored.needsReview);
  const sum = (byDimension: Record<string, number>) => Object.values(byDimension).reduce((a, b) => a + b, 0);
  expect(sum(stats.by_model)).toBe(stored.total);
  expect(sum(stats.by_source)).toBe(stored.total);
  expect(sum(stats.by_task_type)).toBe(stored.total);
  return stats;
}

async function expectSeedsUntouched() {
  for (const [name, before] of seedSnapshots) {
    const after = await snapshot(SEEDS[name].id);
    expect(after.item, `seed ${name}`).toEqual(before.item);
    expect(
      after.body?.equals(before.body ?? Buffer.alloc(0)) ?? before.body === null,
      `seed ${name} body`,
    ).toBe(true);
  }
}

beforeAll(async () => {
  aws = await provisionTestAws("hostile-lines");
  deps = importRunDeps(aws.clients, aws.resources);
  const outcome = await uploadAndImport(SEED_RUN, `${seedLine("huge")}\n${seedLine("small")}\n`);
  expect(outcome.status === "imported" && outcome.summary.counts.imported).toBe(2);
  for (const name of Object.keys(SEEDS) as SeedName[])
    seedSnapshots.set(name, await snapshot(SEEDS[name].id));
  // The seeded prompt is too big for an item: its body is in S3, and that body must never change.
  expect(seedSnapshots.get("huge")?.body?.length).toBeGreaterThan(300 * 1024);
});

// ─── Recipes: what a line holds, rendered into JSON text once the run's id prefix is known ────

/** Ids that are fine, and odd: emoji, right-to-left marks, lone surrogates (written `\ud800`), BOM. */
const oddIdSuffix = fc.oneof(
  { arbitrary: fc.constant(""), weight: 6 },
  fc.constantFrom(
    "-😀🏳️‍🌈",
    "-\u200f\u202eright-to-left",
    "-\ud800",
    "-\udfff-x-\ud83d",
    "-e\u0301\u0301\u0301",
    "-\ufeffbom",
    "-\u2028sep",
    "   ",
  ),
  fc.string({ unit: "binary", maxLength: 12 }).map((s) => `-${s}`),
  // Across the 960-byte cap: 476 "é" or 238 "😀" after the prefix still fit.
  fc.integer({ min: 440, max: 520 }).map((n) => `-${"é".repeat(n)}`),
  fc.integer({ min: 220, max: 260 }).map((n) => `-${"😀".repeat(n)}`),
);

/** A counted label (source, task type, model): short, odd, exactly at the cap, or just past it. */
const label = fc.oneof(
  { arbitrary: fc.constantFrom("math", "Qwen2.5-3B", "code"), weight: 4 },
  fc.constantFrom("", " ", "\ud800lone", "名前", "m".repeat(256), "m".repeat(257)),
  fc.string({ unit: "binary", maxLength: 24 }),
);

/** Keys that trip naive object handling, and the names the store refuses at any depth. */
const metadataKey = fc.oneof(
  { arbitrary: fc.string({ minLength: 1, maxLength: 8 }), weight: 8 },
  fc.constantFrom("__proto__", "constructor", "toString", "", " ", "\u0000", "\ud800"),
);
const metadata = fc.dictionary(
  metadataKey,
  fc.oneof(fc.integer(), fc.string({ maxLength: 12 }), fc.boolean(), fc.constant(null)),
  { maxKeys: 4 },
);

const goodLine = fc.record({
  kind: fc.constant("good" as const),
  slot: fc.integer({ min: 0, max: 3 }),
  idSuffix: oddIdSuffix,
  prompt: fc.string({ maxLength: 40 }),
  response: fc.option(fc.string({ unit: "binary", maxLength: 40 }), { nil: undefined }),
  taskType: fc.option(label, { nil: undefined }),
  model: fc.option(label, { nil: undefined }),
  source: fc.option(label, { nil: undefined }),
  metadata: fc.option(metadata, { nil: undefined }),
});

const hostileNumber = fc.record({
  kind: fc.constant("number" as const),
  literal: fc.constantFrom(
    "1e16",
    "1e300",
    "-1e300",
    "123456789012345678901",
    "9007199254740993",
    "-9007199254740992",
    "1e-200",
  ),
  field: fc.constantFrom("tokens_per_sec", "quality_score", "gpu_id", "metadata", "extra"),
});

const deepNesting = fc.record({
  kind: fc.constant("deep" as const),
  depth: fc.oneof(fc.integer({ min: 28, max: 45 }), fc.constant(10_000)),
  brackets: fc.constantFrom("[]", "{}"),
});

const badId = fc.record({
  kind: fc.constant("badId" as const),
  id: fc.constantFrom(
    `"${"é".repeat(600)}"`,
    `"${"x".repeat(1_100)}"`,
    `"${"y".repeat(513)}"`,
    '"nul-\\u0000-id"',
    '"tab\\tid"',
    '"   "',
    '""',
    "12345",
    "1e16",
    "true",
    '["a"]',
    "null",
  ),
});

const longLabel = fc.record({
  kind: fc.constant("longLabel" as const),
  field: fc.constantFrom("model_name", "model_id", "task_type", "source"),
  length: fc.oneof(
    fc.integer({ min: 257, max: 300 }),
    fc.constant(5_000),
    fc.integer({ min: 5_000, max: 60_000 }),
  ),
});

const hugePrompt = fc.record({
  kind: fc.constant("hugePrompt" as const),
  kilobytes: fc.integer({ min: 150, max: 450 }),
  fill: fc.constantFrom("a", "é", "😀", "\ud800"),
});

const hugeField = fc.record({
  kind: fc.constant("hugeField" as const),
  kilobytes: fc.integer({ min: 320, max: 420 }),
});

/**
 * Names the store cannot take: empty (DynamoDB refuses it at any depth), and `__proto__` and
 * `constructor`, which the SDK's marshaller reads as the value's prototype and type.
 */
const unstorableName = fc.record({
  kind: fc.constant("oddName" as const),
  fields: fc.constantFrom(
    ['"metadata": {"": 1}', "empty name"],
    ['"metadata": {"a": {"": null}}', "empty name"],
    ['"metadata": [{"": []}]', "empty name"],
    ['"": "top"', "empty name"],
    ['"metadata": {"__proto__": 0}', "__proto__"],
    ['"metadata": {"a": {"__proto__": [1]}}', "__proto__"],
    ['"__proto__": {"x": 1}', "__proto__"],
    ['"metadata": {"constructor": {"name": "Map"}}', "constructor"],
    ['"metadata": {"constructor": {"name": "Set"}, "x": 1}', "constructor"],
    ['"metadata": {"constructor": {"name": "String"}, "x": 1}', "constructor"],
    ['"metadata": [{"constructor": true}]', "constructor"],
    ['"constructor": "top"', "constructor"],
  ),
});

const seedReuse = fc.record({
  kind: fc.constant("seed" as const),
  seed: fc.constantFrom<SeedName>("huge", "small"),
  sameContent: fc.boolean(),
});

const junk = fc.record({
  kind: fc.constant("junk" as const),
  text: fc.constantFrom(
    ["", "blank_line"],
    ["   \t ", "blank_line"],
    ["{", "invalid_json"],
    ['{"id": }', "invalid_json"],
    ['{"id": "x"', "invalid_json"],
    ["[]", "not_an_object"],
    ["42", "not_an_object"],
    ["null", "not_an_object"],
    ['"an id"', "not_an_object"],
    ["{}", "missing_id"],
    ['{"model_response": "no id"}', "missing_id"],
  ),
});

const anyLine = fc.oneof(
  { arbitrary: goodLine, weight: 8 },
  { arbitrary: hostileNumber, weight: 2 },
  { arbitrary: deepNesting, weight: 2 },
  { arbitrary: badId, weight: 2 },
  { arbitrary: longLabel, weight: 2 },
  { arbitrary: unstorableName, weight: 1 },
  { arbitrary: seedReuse, weight: 1 },
  { arbitrary: junk, weight: 2 },
  { arbitrary: hugePrompt, weight: 1 },
  { arbitrary: hugeField, weight: 1 },
);
type Recipe = typeof anyLine extends fc.Arbitrary<infer R> ? R : never;

/** A run: at least one good line, with hostile and good lines mixed in any order. */
const runRecipes = fc
  .tuple(goodLine, fc.array(anyLine, { maxLength: 9 }), fc.nat())
  .map(([good, rest, at]) => {
    const lines: Recipe[] = [...rest];
    lines.splice(at % (rest.length + 1), 0, good);
    return lines;
  });

type Expected =
  | {
      readonly outcome: "stored";
      readonly id: string;
      readonly prompt: string | null;
      readonly response: string | null;
      /** The line's `metadata`, which must read back as it was written. */
      readonly metadata: unknown;
    }
  | { readonly outcome: "skipped" }
  | { readonly outcome: "quarantined"; readonly reason: QuarantineReason; readonly detail?: string };

interface Rendered {
  readonly text: string;
  readonly expected: Expected;
}

const utf8Bytes = (text: string) => Buffer.byteLength(text, "utf8");
/** Lone surrogates count as the 3 bytes of U+FFFD, as the id check measures them. */
const idBytes = (text: string) => new TextEncoder().encode(text).length;

/** Why a string id is refused, by the documented rules, or `null` when it is a valid id. */
function idProblem(raw: string): string | null {
  const id = raw.trim();
  if (id === "") return "empty";
  if (id.length > 512 || idBytes(id) > 960) return "too long";
  if (/\p{Cc}/u.test(id)) return "control character";
  return null;
}

const labelTooLong = (value: string | undefined) => value !== undefined && value.length > 256;

/** Whether a generated metadata object holds a name the store cannot take. */
const hasUnstorableName = (value: Record<string, unknown> | undefined) =>
  value !== undefined &&
  Object.keys(value).some((name) => name === "" || name === "__proto__" || name === "constructor");

/** Renders the recipes of a run into its lines and what must become of each. */
function renderRun(recipes: readonly Recipe[], prefix: string): Rendered[] {
  const storedIds = new Set<string>();
  const stored = (text: string, id: string, prompt: string | null, response: string | null): Expected => {
    if (storedIds.has(id)) return { outcome: "quarantined", reason: "duplicate_id" };
    storedIds.add(id);
    const { metadata } = JSON.parse(text) as { metadata?: unknown };
    return { outcome: "stored", id, prompt, response, metadata };
  };
  const invalid = (detail?: string): Expected => ({
    outcome: "quarantined",
    reason: "invalid_field",
    ...(detail ? { detail } : {}),
  });
  return recipes.map((recipe, index): Rendered => {
    const own = `${prefix}-l${index}`;
    switch (recipe.kind) {
      case "good": {
        const rawId = `${prefix}-g${recipe.slot}${recipe.idSuffix}`;
        const text = JSON.stringify({
          id: rawId,
          prompt_messages: [{ role: "user", content: recipe.prompt }],
          model_response: recipe.response,
          task_type: recipe.taskType,
          model_name: recipe.model,
          source: recipe.source,
          metadata: recipe.metadata,
        });
        // What the store cannot hold is found first; the schema then names every field it refuses.
        if (hasUnstorableName(recipe.metadata)) return { text, expected: invalid("metadata") };
        if (idProblem(rawId)) return { text, expected: invalid("id") };
        if (labelTooLong(recipe.taskType)) return { text, expected: invalid("task_type") };
        if (labelTooLong(recipe.model)) return { text, expected: invalid("model_name") };
        if (labelTooLong(recipe.source)) return { text, expected: invalid("source") };
        return { text, expected: stored(text, rawId.trim(), recipe.prompt, recipe.response ?? null) };
      }
      case "number": {
        const value =
          recipe.field === "metadata"
            ? `{"n": ${recipe.literal}}`
            : recipe.field === "extra"
              ? `[1, 2, {"big": ${recipe.literal}}]`
              : recipe.literal;
        return {
          text: `{"id": ${JSON.stringify(own)}, "model_response": "ok", "${recipe.field}": ${value}}`,
          expected: invalid(recipe.field),
        };
      }
      case "deep": {
        const [open, close] = recipe.brackets === "[]" ? ["[", "]"] : ['{"k":', "}"];
        const nested = `${open.repeat(recipe.depth)}${recipe.brackets === "[]" ? "" : "1"}${close.repeat(recipe.depth)}`;
        const text = `{"id": ${JSON.stringify(own)}, "model_response": "deep", "metadata": ${nested}}`;
        // `metadata` is one level, so a field may hold 31: the 32nd is DynamoDB's own limit.
        if (recipe.depth >= 32) return { text, expected: invalid("nested deeper") };
        return { text, expected: stored(text, own, null, "deep") };
      }
      case "badId": {
        const text = `{"id": ${recipe.id}, "model_response": "bad id"}`;
        return {
          text,
          expected: recipe.id === "null" ? { outcome: "quarantined", reason: "missing_id" } : invalid("id"),
        };
      }
      case "longLabel":
        return {
          text: JSON.stringify({
            id: own,
            model_response: "long",
            [recipe.field]: "m".repeat(recipe.length),
          }),
          expected: invalid(recipe.field),
        };
      case "hugePrompt": {
        const prompt = recipe.fill.repeat(Math.ceil((recipe.kilobytes * 1024) / utf8Bytes(recipe.fill)));
        const text = JSON.stringify({
          id: own,
          prompt_messages: [{ role: "user", content: prompt }],
          model_response: "after a huge prompt",
        });
        return { text, expected: stored(text, own, prompt, "after a huge prompt") };
      }
      case "hugeField":
        return {
          text: JSON.stringify({ id: own, model_response: "x", notes: "n".repeat(recipe.kilobytes * 1024) }),
          expected: { outcome: "quarantined", reason: "item_too_large" },
        };
      case "oddName":
        return {
          text: `{"id": ${JSON.stringify(own)}, "model_response": "k", ${recipe.fields[0]}}`,
          expected: invalid(recipe.fields[1]),
        };
      case "seed":
        return recipe.sameContent
          ? { text: seedLine(recipe.seed), expected: { outcome: "skipped" } }
          : {
              text: seedLine(recipe.seed, `another answer from ${prefix}`),
              expected: { outcome: "quarantined", reason: "id_conflict", detail: SEED_RUN },
            };
      case "junk":
        return {
          text: recipe.text[0],
          expected: { outcome: "quarantined", reason: recipe.text[1] as QuarantineReason },
        };
    }
    throw new Error(`a recipe of no known kind: ${JSON.stringify(recipe)}`);
  });
}

/** The prompt and answer of a stored candidate, from its item or from its body in S3. */
async function storedContent(item: Record<string, unknown>) {
  const ref = item.body_ref as { key: string } | undefined;
  const body = ref
    ? (JSON.parse((await objectBytes(ref.key)).toString("utf8")) as Record<string, unknown>)
    : item;
  const messages = body.prompt_messages as { content: string }[] | null | undefined;
  return {
    prompt: messages?.[0]?.content ?? null,
    response: (body.model_response as string | null | undefined) ?? null,
  };
}

let runNumber = 0;

describe("importRun against hostile run files (property-based, emulators)", () => {
  it("completes every run: each line stored, skipped or quarantined with its number and reason; counters agree; seeds untouched", async () => {
    await fc.assert(
      fc.asyncProperty(runRecipes, async (recipes) => {
        runNumber += 1;
        const runId = `hostile-${runNumber}`;
        const lines = renderRun(recipes, `h${runNumber}`);
        const countersBefore = await storedCounters(aws);

        const outcome = await uploadAndImport(runId, `${lines.map((line) => line.text).join("\n")}\n`);

        expect(outcome.status).toBe("imported");
        if (outcome.status !== "imported") return;
        const record = await storedRun(aws, runId);
        expect(record?.state).toBe("completed");
        const counts = record?.counts as RunCounts;
        expect(counts).toEqual(outcome.summary.counts);
        expect(counts.lines).toBe(lines.length);
        expect(counts.imported + counts.skipped + counts.quarantined).toBe(counts.lines);

        // Every quarantined line is in the quarantine object once, with its number and a known reason.
        const entries = await quarantineEntries(outcome.summary.quarantineKey);
        expect(entries).toHaveLength(counts.quarantined);
        for (const entry of entries) {
          expect(QUARANTINE_REASONS).toContain(entry.reason);
          expect(entry.run_id).toBe(runId);
        }
        const byLine = new Map(entries.map((entry) => [entry.line, entry]));
        expect(byLine.size).toBe(entries.length);
        const byReason: Record<string, number> = {};
        for (const entry of entries) byReason[entry.reason] = (byReason[entry.reason] ?? 0) + 1;
        expect(counts.quarantined_by_reason).toEqual(byReason);

        // Each line ended as the contract says, and every good line is stored, content and all.
        const expectedStored: string[] = [];
        for (const [index, { expected }] of lines.entries()) {
          const number = index + 1;
          const entry = byLine.get(number);
          if (expected.outcome !== "quarantined") {
            expect(entry, `line ${number} was quarantined`).toBeUndefined();
          } else {
            expect(entry?.reason, `line ${number}`).toBe(expected.reason);
            if (expected.detail) expect(entry?.detail).toContain(expected.detail);
          }
          if (expected.outcome !== "stored") continue;
          expectedStored.push(expected.id);
          const item = await storedCandidate(aws, expected.id);
          expect(item, `line ${number} is not stored`).toBeDefined();
          if (!item) continue;
          expect(item.id).toBe(expected.id);
          expect(item.status).toBe("needs_review");
          expect(item.provenance).toMatchObject({ source_run_id: runId, line: number });
          const content = await storedContent(item);
          if (expected.prompt !== null) expect(content.prompt).toBe(expected.prompt);
          expect(content.response).toBe(expected.response);
          expect(item.metadata).toEqual(expected.metadata);
        }
        expect(counts.imported).toBe(expectedStored.length);
        expect(counts.skipped).toBe(lines.filter((line) => line.expected.outcome === "skipped").length);
        const ofRun = await candidatesOfRun(aws, runId);
        expect(ofRun.map((item) => item.id).sort()).toEqual([...expectedStored].sort());

        // The counters moved by what was stored, and still agree with a recount of the table.
        const countersAfter = await storedCounters(aws);
        expect((countersAfter.total ?? 0) - (countersBefore.total ?? 0)).toBe(counts.imported);
        await expectCountersToAgreeWithTheStore();
        await expectSeedsUntouched();
      }),
      { seed: SEED, numRuns: 25, interruptAfterTimeLimit: 200_000, markInterruptAsFailure: true },
    );
  }, 300_000);
});

describe("counters against run lines with labels of 5,000 to 60,000 characters (property-based, emulators)", () => {
  const longLabel = fc.record({
    field: fc.constantFrom("model_name", "model_id", "task_type", "source"),
    length: fc.integer({ min: 5_000, max: 60_000 }),
    fill: fc.constantFrom("m", "é", "😀"),
  });

  it("quarantines every long label naming its field; counts only the lines at the cap; stats stay readable", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(longLabel, { minLength: 10, maxLength: 40 }), async (labels) => {
        runNumber += 1;
        const runId = `poison-${runNumber}`;
        const atCap = JSON.stringify({
          id: `${runId}-cap`,
          model_response: "a",
          model_name: "c".repeat(256),
        });
        const lines = [
          atCap,
          ...labels.map((label, i) =>
            JSON.stringify({
              id: `${runId}-${i}`,
              model_response: "a",
              [label.field]: label.fill.repeat(label.length / label.fill.length),
            }),
          ),
        ];
        const before = await storedCounters(aws);

        const outcome = await uploadAndImport(runId, `${lines.join("\n")}\n`);

        expect(outcome.status).toBe("imported");
        if (outcome.status !== "imported") return;
        expect(outcome.summary.counts).toMatchObject({
          lines: labels.length + 1,
          imported: 1,
          quarantined: labels.length,
          quarantined_by_reason: { invalid_field: labels.length },
        });
        const entries = await quarantineEntries(outcome.summary.quarantineKey);
        for (const entry of entries) {
          expect(entry.detail).toContain((labels[entry.line - 2] as { field: string }).field);
        }
        const after = await storedCounters(aws);
        expect((after.total ?? 0) - (before.total ?? 0)).toBe(1);
        const stats = await expectCountersToAgreeWithTheStore();
        for (const dimension of [stats.by_model, stats.by_task_type, stats.by_source]) {
          expect(Math.max(...Object.keys(dimension).map((name) => name.length))).toBeLessThanOrEqual(256);
        }
        expect(stats.by_model["c".repeat(256)]).toBeGreaterThan(0);
        await expectSeedsUntouched();
      }),
      { seed: SEED + 1, numRuns: 5, interruptAfterTimeLimit: 100_000, markInterruptAsFailure: true },
    );
  }, 180_000);
});
