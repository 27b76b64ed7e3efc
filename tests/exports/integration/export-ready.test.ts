import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { CLEAN_RUN_ID, samplePath, sampleRunFile } from "../../../samples/index.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { type ApiHandler, callApi, type HttpRequest, httpEvent } from "../../support/http-events.ts";
import { uploadRun } from "../../support/review-fixtures.ts";

/**
 * `export_ready` is a promise about exports: after the sample corrections arrive as Avocet's
 * products send them (no model) and reviewers approve some candidates, the count the footer and
 * `GET /api/sft/stats` show equals the lines `GET /api/sft/export` delivers.
 */

const TOKEN = "reviewer-token-for-export-ready";
const INGEST_TOKENS = { kiwi: `kiwi-${randomUUID()}`, peregrine: `peregrine-${randomUUID()}` };
const ODD_RUN = "2026-05-03-090000-odd-prompts";

let aws: TestAws;
let api: ApiHandler;
const context = lambdaContext("api");
const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, context, method, path, { token: TOKEN, ...request });

/** The sample corrections with their `model` taken out: Avocet's ingest body. */
const avocetCorrections = readFileSync(samplePath("corrections", "valid.jsonl"), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => {
    const { model: _model, ...body } = JSON.parse(line) as Record<string, unknown>;
    return body;
  });

/** Lines whose prompt no SFT example can open with: no messages, or the assistant first. */
const oddLine = (n: number, prompt_messages: unknown) =>
  JSON.stringify({
    id: `${ODD_RUN}-${n}`,
    source: "cf-orch-benchmark",
    benchmark_run_id: ODD_RUN,
    prompt_messages,
    model_response: "no",
    task_type: "math",
    model_name: "Qwen2.5-3B",
  });

async function exportedLines(): Promise<number> {
  const reply = await api(httpEvent("GET", "/api/sft/export", { token: TOKEN }), context);
  expect(reply.statusCode).toBe(303);
  const response = await fetch(String(reply.headers?.location));
  expect(response.status).toBe(200);
  return (await response.text()).split("\n").filter(Boolean).length;
}

const exportReady = async () => (await call("GET", "/api/sft/stats")).body.export_ready as number;

beforeAll(async () => {
  aws = await provisionTestAws("export-ready");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  vi.stubEnv("INGEST_TOKENS", JSON.stringify(INGEST_TOKENS));
  // kiwi is a known product whose model is configured; peregrine is not.
  vi.stubEnv("INGEST_SOURCE_DEFAULTS", JSON.stringify({ kiwi: { model: "Llama-3.2-3B" } }));
  ({ handler: api } = await import("../../../functions/api.ts"));

  await uploadRun(aws, CLEAN_RUN_ID, readFileSync(sampleRunFile(CLEAN_RUN_ID)));
  await uploadRun(
    aws,
    ODD_RUN,
    [
      oddLine(1, []),
      oddLine(2, [
        { role: "assistant", content: "Hi" },
        { role: "user", content: "2+2?" },
      ]),
    ].join("\n"),
  );
  for (const run_id of [CLEAN_RUN_ID, ODD_RUN]) {
    expect((await call("POST", "/api/sft/import", { body: { run_id } })).status).toBe(200);
  }
}, 120_000);

describe("export_ready", () => {
  it("equals the lines GET /api/sft/export delivers, after Avocet-shaped corrections and approvals", async () => {
    const warnings: Record<string, unknown[]> = {};
    for (const body of avocetCorrections) {
      const source = body.source as keyof typeof INGEST_TOKENS;
      const reply = await call("POST", "/api/sft/ingest", { token: INGEST_TOKENS[source], body });
      expect(reply.status).toBe(200);
      warnings[source] = [...(warnings[source] ?? []), ...reply.body.warnings];
    }
    // The unconfigured product hears, in each answer, why its records will not be exported.
    expect(warnings.kiwi).toEqual([]);
    expect(warnings.peregrine).toEqual([
      expect.stringContaining('configure a default model for source "peregrine"'),
      expect.stringContaining('configure a default model for source "peregrine"'),
    ]);

    // Reviewers approve five run candidates and both odd ones, discard one, and undo one approval.
    const clean = (n: number) => `${CLEAN_RUN_ID}-${String(n).padStart(7, "0")}`;
    const decide = async (id: string, action: string, corrected_response?: string) => {
      const reply = await call("POST", "/api/sft/submit", { body: { id, action, corrected_response } });
      expect(reply.status).toBe(200);
    };
    for (const n of [0, 1, 2, 3, 4]) await decide(clean(n), "correct", `Answer: ${n}`);
    await decide(`${ODD_RUN}-1`, "correct", "4");
    await decide(`${ODD_RUN}-2`, "correct", "4");
    await decide(clean(5), "discard");
    expect((await call("POST", "/api/sft/undo", { body: { id: clean(4) } })).status).toBe(200);

    // 4 run candidates and the 2 kiwi corrections; not the 2 peregrine ones, not the odd prompts.
    expect(await exportReady()).toBe(6);
    expect(await exportedLines()).toBe(6);

    // The provenance report names the source whose records are untraceable.
    const report = (await call("GET", "/api/provenance/report")).body;
    expect(report.by_source.peregrine).toMatchObject({ total: 2, valid: 0, missing: 2 });
    expect(report.by_source.kiwi).toMatchObject({ total: 2, valid: 2, missing: 0 });
  });
});
