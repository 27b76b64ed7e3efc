import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runExport } from "../../../cli/export.ts";
import { type ApiTarget, callApi } from "../../../cli/target.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flywheel-cli-token-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A target whose token the CLI obtained: each call asks for it again (t1, t2, …). */
function renewingTarget(): ApiTarget & { asked: () => number } {
  let n = 0;
  return {
    apiUrl: "https://api.example/prod",
    token: "t0",
    description: "https://api.example/prod",
    freshToken: async () => `t${++n}`,
    asked: () => n,
  };
}

describe("a token the CLI obtained", () => {
  it("is asked for again before each API call, so a long export is not cut off by its expiry", async () => {
    const dataset = '{"messages":[]}\n';
    const sha256 = createHash("sha256").update(dataset).digest("hex");
    const seen: { url: string; authorization: string | null }[] = [];
    let polls = 0;
    const fakeFetch: typeof fetch = async (input, init) => {
      const url = String(input);
      seen.push({ url, authorization: new Headers(init?.headers).get("authorization") });
      if (url.startsWith("https://bucket.example/")) return new Response(dataset);
      if (init?.method === "POST") return Response.json({ id: "job-1", status: "queued" });
      polls += 1;
      if (polls < 2) return Response.json({ id: "job-1", status: "running" });
      return Response.json({
        id: "job-1",
        status: "succeeded",
        download: { url: "https://bucket.example/dataset.jsonl?X-Amz-Signature=x", file_name: "d.jsonl" },
        manifest: {
          counts: { exported: 1, lines: 1, quarantined: 0, by_reason: {} },
          warnings: [],
          files: { dataset: { sha256, bytes: dataset.length, lines: 1 } },
        },
      });
    };
    const output = join(dir, "out.jsonl");
    await runExport(
      renewingTarget(),
      { format: "openai-sft" },
      { output, manifestFile: join(dir, "out.manifest.json"), timeoutMs: 10_000 },
      { print: () => {}, fetch: fakeFetch, pollIntervalMs: 1 },
    );
    expect(await readFile(output, "utf8")).toBe(dataset);
    expect(seen.map((call) => call.authorization)).toEqual(["Bearer t1", "Bearer t2", "Bearer t3", null]);
    expect(seen[0]?.url).toBe("https://api.example/prod/api/exports");
  });

  it("is what callApi sends; a given token is sent as it is", async () => {
    const original = globalThis.fetch;
    const sent: (string | null)[] = [];
    globalThis.fetch = (async (_input: Parameters<typeof fetch>[0], init?: RequestInit) => {
      sent.push(new Headers(init?.headers).get("authorization"));
      return Response.json({});
    }) as typeof fetch;
    try {
      const target = renewingTarget();
      await callApi(target, "GET", "/api/provenance/report");
      await callApi(target, "GET", "/api/provenance/report");
      await callApi({ apiUrl: "https://api.example", token: "given", description: "" }, "GET", "/api/health");
    } finally {
      globalThis.fetch = original;
    }
    expect(sent).toEqual(["Bearer t1", "Bearer t2", "Bearer given"]);
  });
});
