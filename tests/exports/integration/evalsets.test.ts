import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../../cli/commands.ts";
import { evalsetsCommand } from "../../../cli/evalsets.ts";
import { commandIo } from "../../../cli/output.ts";
import { S3EvalSetStore } from "../../../lib/exports/adapters/evalset-store.ts";
import type { EvalIndexMeta } from "../../../lib/exports/domain/evalsets.ts";
import { type HttpApiServer, startHttpApi } from "../../../local/http-api.ts";
import type { Poller } from "../../../local/poller.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { exportThroughApi, startExportStack } from "../../support/export-stack.ts";
import { callApi, type HttpRequest } from "../../support/http-events.ts";
import { uploadRun } from "../../support/review-fixtures.ts";

/**
 * Decontamination through the real path: eval sets registered with the CLI (through the API) and
 * by an upload straight to the bucket, then an export job run by the export function off the
 * queue, against the emulators.
 */

const TOKEN = "reviewer-token-for-evalset-tests";
const RUN = "2026-05-04-090000-evalsets";

const GSM =
  "A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total does it take to make the robe?";
const GSM_ANSWER =
  "It takes 2/2 = 1 bolt of white fiber, so the total amount of fabric is 2 + 1 = 3 bolts of fabric.";
const TRIVIA =
  "Which English king was killed by an arrow at the Battle of Hastings in the year 1066 according to tradition?";

let aws: TestAws;
let server: HttpApiServer;
let poller: Poller;
let dir: string;
let api: Awaited<typeof import("../../../functions/api.ts")>["handler"];
const id = (n: number) => `${RUN}-${String(n).padStart(5, "0")}`;
const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, lambdaContext("api"), method, path, { token: TOKEN, ...request });

/** What each candidate's prompt and correction are, and what the export must do with it. */
const PLAN = [
  { n: 0, prompt: `Please solve: ${GSM} Show your steps.`, correction: "3", expect: ["gsm8k-test", "robe"] },
  {
    n: 1,
    prompt: "How many bolts of fiber?",
    correction: `Worked out: ${GSM_ANSWER}`,
    expect: ["gsm8k-test", "robe"],
  },
  {
    n: 2,
    prompt: `Quiz time. ${TRIVIA.toUpperCase()}`,
    correction: "Harold",
    expect: ["trivia", "part-1.jsonl:2"],
  },
  // Near misses: a short phrase shared with an item, and 12 of its words in a row.
  { n: 3, prompt: "How many bolts in total does it take?", correction: "Three.", expect: null },
  {
    n: 4,
    prompt: "A robe takes 2 bolts of blue fiber and half that much, said the tailor.",
    correction: "Noted.",
    expect: null,
  },
  { n: 5, prompt: "What is 6 times 7?", correction: "42", expect: null },
] as const;

function runLine(n: number, prompt: string) {
  return JSON.stringify({
    id: id(n),
    source: "cf-orch-benchmark",
    benchmark_run_id: RUN,
    timestamp: new Date(Date.UTC(2026, 4, 4, 9, 0, n)).toISOString(),
    status: "needs_review",
    prompt_messages: [{ role: "user", content: prompt }],
    model_response: `wrong answer ${n}`,
    corrected_response: null,
    task_type: "math",
    model_name: "model-x",
  });
}

const exportJob = (body: unknown) => exportThroughApi(call, body);

async function text(url: string) {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return response.text();
}

beforeAll(async () => {
  aws = await provisionTestAws("evalsets");
  ({ api, poller } = await startExportStack(aws, TOKEN));
  server = await startHttpApi({ port: 0, handler: api, region: "us-east-1" });
  dir = await mkdtemp(join(tmpdir(), "flywheel-evalsets-"));
  await uploadRun(aws, RUN, PLAN.map(({ n, prompt }) => runLine(n, prompt)).join("\n"));
  expect((await call("POST", "/api/sft/import", { body: { run_id: RUN } })).body).toEqual({
    imported: PLAN.length,
    skipped: 0,
  });
  for (const { n, correction } of PLAN) {
    const reply = await call("POST", "/api/sft/submit", {
      body: {
        id: id(n),
        action: "correct",
        corrected_response: correction,
        failure_category: "wrong_answer",
      },
    });
    expect(reply.status).toBe(200);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([poller?.stop(), server?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("eval sets and the export", () => {
  it("registers a set with the CLI and another by an upload to evalsets/, and lists both", async () => {
    const file = join(dir, "gsm8k-test.jsonl");
    await writeFile(
      file,
      `${JSON.stringify({ id: "robe", question: GSM, answer: GSM_ANSWER })}\n${JSON.stringify({ id: "other", question: "What is the sum of the interior angles of a convex hexagon in degrees?", answer: "720" })}\n`,
    );
    const target = ["--api-url", server.url, "--token", TOKEN];
    const documents: unknown[] = [];
    const io = { ...commandIo(true, () => {}), emit: (document: unknown) => documents.push(document) };
    expect(await evalsetsCommand(["add", "gsm8k-test", file, ...target], io)).toBe(0);
    expect(documents[0]).toMatchObject({ name: "gsm8k-test", items: 2, indexed_items: 2, skipped_lines: 0 });

    // Straight to the bucket, as `aws s3 cp` would: its item ids are file:line where it has none.
    await aws.clients.s3.send(
      new PutObjectCommand({
        Bucket: aws.resources.bucket,
        Key: "evalsets/trivia/part-1.jsonl",
        Body: `${JSON.stringify({ prompt: "Name the largest ocean on the planet Earth by total surface area.", completion: "Pacific" })}\n${JSON.stringify({ prompt: TRIVIA, completion: "Harold Godwinson" })}\n`,
      }),
    );

    const printed: string[] = [];
    expect(await evalsetsCommand(["list", ...target], (line) => printed.push(line))).toBe(0);
    expect(printed).toEqual([
      expect.stringMatching(/^gsm8k-test: 2 item\(s\) \(2 long enough to check\), .*, version [0-9a-f]{16}$/),
      expect.stringMatching(
        /^trivia: not indexed yet \(the next export indexes it\), .*, version [0-9a-f]{16}$/,
      ),
    ]);
    // Reading a set never builds its index: the uploaded one is listed as not indexed, and nothing
    // was written under evalset-index/ for it.
    const unindexed = await call("GET", "/api/evalsets/trivia");
    expect(unindexed.status).toBe(200);
    expect(unindexed.body).toMatchObject({ name: "trivia", indexed: false, items: null, indexed_at: null });
    const before = await aws.clients.s3.send(
      new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: "evalset-index/trivia/" }),
    );
    expect(before.Contents ?? []).toEqual([]);
    const indexed = await call("POST", "/api/evalsets/trivia/index");
    expect(indexed.status).toBe(200);
    expect(indexed.body).toMatchObject({
      name: "trivia",
      version: unindexed.body.version,
      indexed: true,
      items: 2,
    });
    expect((await call("POST", "/api/evalsets/no-such-set/index")).status).toBe(404);
    // Through the CLI's entry point with --json: one document, the API's listing.
    const out: string[] = [];
    expect(
      await runCli(["evalsets", "list", "--json", ...target], { out: (l) => out.push(l), err: () => {} }),
    ).toBe(0);
    expect(JSON.parse(out.join("\n")).evalsets.map((set: { name: string }) => set.name)).toEqual([
      "gsm8k-test",
      "trivia",
    ]);
    const listed = await call("GET", "/api/evalsets");
    expect(
      listed.body.evalsets.map((set: { indexed: boolean; items: number }) => [set.indexed, set.items]),
    ).toEqual([
      [true, 2],
      [true, 2],
    ]);
    expect(
      listed.body.evalsets.map((set: { name: string; files: unknown }) => [set.name, set.files]),
    ).toEqual([
      ["gsm8k-test", [{ key: "evalsets/gsm8k-test/items.jsonl", bytes: expect.any(Number) }]],
      ["trivia", [{ key: "evalsets/trivia/part-1.jsonl", bytes: expect.any(Number) }]],
    ]);
    // Each version's index is stored beside, under evalset-index/.
    const indexes = await aws.clients.s3.send(
      new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: "evalset-index/" }),
    );
    expect((indexes.Contents ?? []).map((object) => object.Key).sort()).toEqual(
      listed.body.evalsets.flatMap((set: { name: string; version: string }) => [
        `evalset-index/${set.name}/${set.version}/n13.grams`,
        `evalset-index/${set.name}/${set.version}/n13.json`,
      ]),
    );
  });

  it("quarantines each contaminated record as eval_contamination naming the set and item, and exports the near misses", async () => {
    const job = await exportJob({ format: "openai-sft" });
    expect(job.status).toBe("succeeded");
    const quarantine = (await text(job.quarantine_download.url))
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    const contaminated = PLAN.filter((p) => p.expect !== null);
    expect(
      quarantine.map((entry) => [entry.candidate_id, entry.reason, entry.eval_set, entry.eval_item]),
    ).toEqual(contaminated.map((p) => [id(p.n), "eval_contamination", ...(p.expect ?? [])]));
    const dataset = (await text(job.download.url))
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(dataset.map((line) => line.messages.at(-1).content)).toEqual(
      PLAN.filter((p) => p.expect === null).map((p) => p.correction),
    );
    const sets = (await call("GET", "/api/evalsets")).body.evalsets;
    expect(job.manifest.decontamination).toEqual({
      ngram: 13,
      sets: sets.map((set: { name: string; version: string }) => ({
        name: set.name,
        version: set.version,
        items: 2,
      })),
    });
    expect(job.manifest.counts.by_reason.eval_contamination).toBe(contaminated.length);
  });

  it("builds the index of another n-gram length when an export asks for it, and a removed set is no longer checked", async () => {
    // 12 words in a row of the item: contamination at eval_ngram 12, not at 13.
    const twelve = await exportJob({ format: "openai-sft", options: { eval_ngram: 12 } });
    expect(twelve.manifest.decontamination.ngram).toBe(12);
    expect(twelve.manifest.counts.by_reason.eval_contamination).toBe(4);
    const stored = await aws.clients.s3.send(
      new GetObjectCommand({
        Bucket: aws.resources.bucket,
        Key: `evalset-index/trivia/${twelve.manifest.decontamination.sets[1].version}/n12.json`,
      }),
    );
    expect(JSON.parse((await stored.Body?.transformToString()) ?? "{}")).toMatchObject({
      set: "trivia",
      ngram: 12,
      items: 2,
    });

    expect(
      await evalsetsCommand(["remove", "trivia", "--api-url", server.url, "--token", TOKEN], () => {}),
    ).toBe(0);
    const after = await exportJob({ format: "openai-sft" });
    expect(after.manifest.decontamination.sets.map((set: { name: string }) => set.name)).toEqual([
      "gsm8k-test",
    ]);
    expect(after.manifest.counts.by_reason.eval_contamination).toBe(2);
  });

  it("flywheel evalsets add --bucket uploads the file to the bucket, then has the API index it", async () => {
    const file = join(dir, "bucket-set.jsonl");
    await writeFile(
      file,
      `${JSON.stringify({ id: "b1", prompt: TRIVIA, completion: "Harold Godwinson" })}\nnot json\n`,
    );
    const documents: { name?: string; indexed?: boolean; items?: number; skipped_lines?: number }[] = [];
    const io = {
      ...commandIo(true, () => {}),
      emit: (document: unknown) => documents.push(document as never),
    };
    const target = ["--bucket", aws.resources.bucket, "--api-url", server.url, "--token", TOKEN];
    // A bad line uploaded to the bucket is skipped and counted: exit 1 says so.
    expect(await evalsetsCommand(["add", "bucket-set", file, ...target], io)).toBe(1);
    expect(documents[0]).toMatchObject({ name: "bucket-set", indexed: true, items: 1, skipped_lines: 1 });
    const shown = await call("GET", "/api/evalsets/bucket-set");
    expect(shown.body).toMatchObject({ indexed: true, items: 1 });
    expect(
      await evalsetsCommand(["remove", "bucket-set", "--api-url", server.url, "--token", TOKEN], () => {}),
    ).toBe(0);
  });

  it("refuses a registration whose line is not an item, or a name no set can have", async () => {
    const bad = await call("POST", "/api/evalsets/broken", {
      body: `${JSON.stringify({ question: GSM })}\n{"id": 1}\n`,
      headers: { "content-type": "application/x-ndjson" },
    });
    expect(bad.status).toBe(422);
    expect(JSON.stringify(bad.body.detail)).toContain("no prompt");
    expect((await call("GET", "/api/evalsets/broken")).status).toBe(404);
    expect(
      (await call("POST", "/api/evalsets/_hidden", { body: { items: [{ question: GSM }] } })).status,
    ).toBe(422);
  });
});

describe("an eval set's n-gram index", () => {
  it("is kept whole when larger than the bucket takes in one request (the emulator: 11 MiB)", async () => {
    const store = new S3EvalSetStore(aws.clients.s3, aws.resources.bucket);
    // A million grams of 12 bytes, as 80,000 eval items of 13 or more words would make.
    const grams = randomBytes(12 * 1_000_000);
    const meta: EvalIndexMeta = {
      index_version: 1,
      set: "big-set",
      version: "v-big",
      ngram: 13,
      items: 80_000,
      indexed_items: 80_000,
      grams: 1_000_000,
      short_lengths: [],
      bytes: grams.byteLength,
      skipped_lines: 0,
      skipped: [],
      built_at: new Date().toISOString(),
      item_ids: [],
    };
    await store.putIndex(meta, grams);
    expect(await store.indexMeta("big-set", "v-big", 13)).toEqual(meta);
    const read = await store.indexGrams("big-set", "v-big", 13, grams.byteLength);
    expect(Buffer.from(read).equals(grams)).toBe(true);
  });
});
