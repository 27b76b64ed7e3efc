import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { datasetsCommand } from "../../../cli/datasets.ts";
import { commandIo } from "../../../cli/output.ts";
import { API_CONTRACT } from "../../../lib/api/contract.ts";
import { ExportConfig, loadConfig } from "../../../lib/common/config.ts";
import { ConflictError } from "../../../lib/common/domain/errors.ts";
import { S3DatasetObjects } from "../../../lib/datasets/adapters/dataset-objects.ts";
import { DatasetTable } from "../../../lib/datasets/adapters/dataset-table.ts";
import { diffVersions, pinDataset } from "../../../lib/datasets/usecases/datasets.ts";
import { datasetDeps } from "../../../lib/datasets/wiring.ts";
import { recordId } from "../../../lib/exports/domain/export-formats.ts";
import { newExportJob } from "../../../lib/exports/domain/export-job.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { runExportJob } from "../../../lib/exports/usecases/exports.ts";
import { exportBuildDeps } from "../../../lib/exports/wiring.ts";
import { type HttpApiServer, startHttpApi } from "../../../local/http-api.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { MemoryCandidates } from "../../support/export-fakes.ts";
import { reviewed } from "../../support/export-fixtures.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";

const TOKEN = "reviewer-token-for-dataset-tests";

let aws: TestAws;
let api: ApiHandler;
const context = lambdaContext("api");
const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, context, method, path, { token: TOKEN, ...request });
const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");

/** Candidates a1…a6: v1 exports a1–a4, v2 a2–a6 (a1 gone, a5 and a6 new). */
const candidate = (n: number) => reviewed(`dataset-${n}`, { id: `dataset-cand-${n}` });
const ALL = [1, 2, 3, 4, 5, 6].map(candidate);
const FIRST = ALL.slice(0, 4);
const SECOND = ALL.slice(1);
let exportIds = 0;

/** Runs an export job to the end with the real job table and bucket, over the given candidates. */
async function exportOf(candidates: typeof ALL, body: unknown): Promise<string> {
  const build = {
    ...exportBuildDeps(aws.clients, loadConfig(ExportConfig)),
    candidates: new MemoryCandidates(candidates),
  };
  const job = newExportJob({
    id: `dataset-export-${++exportIds}-${Date.now()}`,
    request: ExportRequest.parse(body),
    origin: "api",
    requestedBy: "trainer@example.com",
    at: new Date(),
  });
  await build.jobs.create(job);
  await runExportJob(build, job.id);
  return job.id;
}

async function download(url: string): Promise<Buffer> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await aws.clients.s3.send(
    new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: prefix }),
  );
  return (listed.Contents ?? []).map((object) => String(object.Key)).sort();
}

/** What the bucket's lifecycle rule does to an export after 30 days. */
async function expire(exportId: string, documentsPrefix?: string) {
  for (const prefix of [`exports/${exportId}/`, ...(documentsPrefix ? [documentsPrefix] : [])]) {
    for (const key of await keysUnder(prefix)) {
      await aws.clients.s3.send(new DeleteObjectCommand({ Bucket: aws.resources.bucket, Key: key }));
    }
  }
  expect(await keysUnder(`exports/${exportId}/`)).toEqual([]);
}

async function objectBytes(key: string): Promise<Buffer> {
  const object = await aws.clients.s3.send(new GetObjectCommand({ Bucket: aws.resources.bucket, Key: key }));
  return Buffer.from(
    await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

let v1Export: string;
let v2Export: string;
/** The files of v1's export as downloaded before it expired. */
const before: Record<string, Buffer> = {};

beforeAll(async () => {
  aws = await provisionTestAws("datasets");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  vi.stubEnv("EXPORTS_QUEUE_URL", aws.resources.queues.exports.url);
  ({ handler: api } = await import("../../../functions/api.ts"));
  v1Export = await exportOf(FIRST, { format: "trl-dpo", options: { validation_fraction: 0.3 } });
  v2Export = await exportOf(SECOND, { format: "trl-dpo", options: { validation_fraction: 0.3 } });
  for (const name of ["dataset.jsonl", "quarantine.jsonl", "records.jsonl", "manifest.json"]) {
    before[name] = await objectBytes(`exports/${v1Export}/${name}`);
  }
}, 120_000);

describe("pinning exports as dataset versions", () => {
  it("pins a finished export as version 1, its files copied under datasets/<name>/v1/", async () => {
    const pinned = await call("POST", "/api/datasets", { body: { name: "math-dpo", export_id: v1Export } });
    expect(pinned.status).toBe(201);
    expect(pinned.body).toMatchObject({
      name: "math-dpo",
      version: 1,
      export_id: v1Export,
      format: "trl-dpo",
      state: "ready",
      prefix: "datasets/math-dpo/v1/",
      files: {
        dataset: { key: "datasets/math-dpo/v1/dataset.jsonl" },
        records: { key: "datasets/math-dpo/v1/records.jsonl" },
        manifest: { key: "datasets/math-dpo/v1/manifest.json" },
        documents: null,
      },
    });
    expect(pinned.body.manifest.export_id).toBe(v1Export);
    const keys = await keysUnder("datasets/math-dpo/v1/");
    expect(keys).toEqual(
      expect.arrayContaining([
        "datasets/math-dpo/v1/dataset.jsonl",
        "datasets/math-dpo/v1/manifest.json",
        "datasets/math-dpo/v1/quarantine.jsonl",
        "datasets/math-dpo/v1/records.jsonl",
      ]),
    );
    // The validation file too, when the export split one off.
    if (pinned.body.manifest.files.validation) {
      expect(keys).toContain("datasets/math-dpo/v1/validation.jsonl");
    }
  });

  it("answers the existing version when the same export is pinned to the same name again", async () => {
    const again = await call("POST", "/api/datasets", { body: { name: "math-dpo", export_id: v1Export } });
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(1);
    const listed = await call("GET", "/api/datasets/math-dpo");
    expect(listed.body.versions.map((v: { version: number }) => v.version)).toEqual([1]);
  });

  it("pins the next export as version 2 and lists both with their manifests", async () => {
    const pinned = await call("POST", "/api/datasets", { body: { name: "math-dpo", export_id: v2Export } });
    expect(pinned.status).toBe(201);
    expect(pinned.body.version).toBe(2);
    const one = await call("GET", "/api/datasets/math-dpo");
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ name: "math-dpo", last_version: 2 });
    expect(
      one.body.versions.map((v: { version: number; export_id: string; manifest: { export_id: string } }) => [
        v.version,
        v.export_id,
        v.manifest.export_id,
      ]),
    ).toEqual([
      [1, v1Export, v1Export],
      [2, v2Export, v2Export],
    ]);
    const all = await call("GET", "/api/datasets");
    const mine = all.body.datasets.find((d: { name: string }) => d.name === "math-dpo");
    expect(mine.versions).toHaveLength(2);
  });

  it("never hands a version number out twice, even one whose pin never finished", async () => {
    const table = new DatasetTable(aws.clients.dynamodb, aws.resources.tableName);
    // A pin that took a number and died before writing its version.
    expect(await table.nextVersion("math-dpo", new Date().toISOString())).toBe(3);
    const v3 = await exportOf(ALL, { format: "trl-dpo" });
    const pinned = await call("POST", "/api/datasets", { body: { name: "math-dpo", export_id: v3 } });
    expect(pinned.body.version).toBe(4);
    expect(await table.get("math-dpo", 3)).toBeNull();
  });

  it("refuses to overwrite a version: not its item, not its files, not its state", async () => {
    const table = new DatasetTable(aws.clients.dynamodb, aws.resources.tableName);
    const v1 = await table.get("math-dpo", 1);
    if (!v1) throw new Error("version 1 missing");
    // The same number again, for an export never pinned here.
    await expect(table.create({ ...v1, export_id: "never-pinned-export" })).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect(await table.pinnedVersion("math-dpo", "never-pinned-export")).toBeNull();
    // A copy onto a pinned file from other bytes.
    const objects = new S3DatasetObjects(aws.clients.s3, aws.resources.bucket);
    const v2 = await table.get("math-dpo", 2);
    if (!v2) throw new Error("version 2 missing");
    expect(v2.files.records.bytes).not.toBe(v1.files.dataset.bytes);
    await expect(
      objects.copy({ from: v2.files.records.key, to: v1.files.dataset.key, bytes: v2.files.records.bytes }),
    ).rejects.toBeInstanceOf(ConflictError);
    // Marking it ready again with other files changes nothing.
    await table.markReady("math-dpo", 1, v2.files, new Date().toISOString());
    expect((await table.get("math-dpo", 1))?.files).toEqual(v1.files);
    expect(sha256(await objectBytes(v1.files.dataset.key))).toBe(v1.manifest.files.dataset.sha256);
  });

  it("downloads a pinned version byte-identical after its export has expired", async () => {
    await expire(v1Export);
    const version = await call("GET", "/api/datasets/math-dpo/versions/1?expires_in=600");
    expect(version.status).toBe(200);
    const { downloads, manifest } = version.body;
    expect(downloads.dataset.expires_in).toBe(600);
    expect(downloads.dataset.file_name).toBe("math-dpo-v1.jsonl");
    const dataset = await download(downloads.dataset.url);
    expect(dataset.equals(before["dataset.jsonl"] as Buffer)).toBe(true);
    expect(sha256(dataset)).toBe(manifest.files.dataset.sha256);
    expect(dataset.length).toBe(manifest.files.dataset.bytes);
    expect((await download(downloads.quarantine.url)).equals(before["quarantine.jsonl"] as Buffer)).toBe(
      true,
    );
    expect((await download(downloads.records.url)).equals(before["records.jsonl"] as Buffer)).toBe(true);
    expect((await download(downloads.manifest.url)).equals(before["manifest.json"] as Buffer)).toBe(true);
  });

  it("refuses to pin an export whose files are gone, one never finished, and an unknown one", async () => {
    const gone = await exportOf(FIRST, { format: "trl-sft" });
    await expire(gone);
    const expired = await call("POST", "/api/datasets", { body: { name: "sft", export_id: gone } });
    expect(expired.status).toBe(409);
    expect(expired.body.detail).toMatch(/gone/);
    const dry = await exportOf(FIRST, { format: "trl-sft", options: { dry_run: true } });
    expect((await call("POST", "/api/datasets", { body: { name: "sft", export_id: dry } })).status).toBe(409);
    expect(
      (await call("POST", "/api/datasets", { body: { name: "sft", export_id: "no-such-export" } })).status,
    ).toBe(404);
    const badName = await call("POST", "/api/datasets", { body: { name: "../escape", export_id: v2Export } });
    expect(badName.status).toBe(422);
    expect((await call("GET", "/api/datasets/nothing-here")).status).toBe(404);
    expect((await call("GET", "/api/datasets/math-dpo/versions/99")).status).toBe(404);
  });
});

describe("listing datasets a page at a time", () => {
  it("pages by name with limit and next_cursor, every dataset once, and refuses a forged cursor", async () => {
    const names = ["paged-c", "paged-a", "paged-e", "paged-b", "paged-d"];
    for (const name of names) {
      expect((await call("POST", "/api/datasets", { body: { name, export_id: v2Export } })).status).toBe(201);
    }
    const everything = await call("GET", "/api/datasets");
    expect(everything.status).toBe(200);
    expect(everything.body.next_cursor).toBeNull();
    const all = everything.body.datasets.map((d: { name: string }) => d.name);
    expect(all).toEqual([...all].sort());
    expect(all).toEqual(expect.arrayContaining(names));

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await call("GET", `/api/datasets${query}`);
      expect(page.status).toBe(200);
      expect(page.body.datasets.length).toBeLessThanOrEqual(2);
      for (const dataset of page.body.datasets) {
        expect(dataset.versions.length).toBeGreaterThan(0);
        seen.push(dataset.name);
      }
      cursor = page.body.next_cursor;
      pages += 1;
    } while (cursor !== null && pages < 50);
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 2));

    for (const forged of ["not base64!", Buffer.from("../escape").toString("base64url")]) {
      const refused = await call("GET", `/api/datasets?cursor=${encodeURIComponent(forged)}`);
      expect(refused.status).toBe(422);
    }
  });
});

describe("a pin cut short", () => {
  it("answers the version still copying when out of time, and the same pin again carries on to ready", async () => {
    const rag = await exportOf(ALL, { format: "rag" });
    const deps = { ...datasetDeps(aws.clients, loadConfig(ExportConfig) as never), copyConcurrency: 2 };
    const request = { name: "kb-slow", export_id: rag };
    // The deadline has passed: the version is recorded, its copy unfinished.
    const first = await pinDataset(deps, request, "trainer@example.com", { deadline: Date.now() + 1 });
    expect(first.version.state).toBe("copying");
    expect(first.version.version).toBe(1);
    expect(await keysUnder("datasets/kb-slow/v1/manifest.json")).toEqual([]);
    const answered = await call("GET", "/api/datasets/kb-slow/versions/1");
    expect(answered.body).toMatchObject({ state: "copying", downloads: null });

    const again = await pinDataset(deps, request, "trainer@example.com");
    expect(again).toMatchObject({ outcome: "existing", version: { version: 1, state: "ready" } });
    expect(await keysUnder("datasets/kb-slow/v1/documents/")).toHaveLength(ALL.length * 2);
    expect(await keysUnder("datasets/kb-slow/v1/manifest.json")).toEqual([
      "datasets/kb-slow/v1/manifest.json",
    ]);
    expect((await call("GET", "/api/datasets/kb-slow")).body.versions).toHaveLength(1);
  });
});

describe("diffs between versions", () => {
  const id = (n: number) => recordId(`dataset-cand-${n}`, "trl-dpo");

  it("lists the record ids added and removed, from the pinned record indexes", async () => {
    const diff = await call("GET", "/api/datasets/math-dpo/diff?from=1&to=2");
    expect(diff.status).toBe(200);
    expect(diff.body.partitions).toBe(1);
    expect(diff.body.next_cursor).toBeNull();
    expect(diff.body.added).toEqual(
      [5, 6]
        .map((n) => ({ record_id: id(n), candidate_id: `dataset-cand-${n}` }))
        .sort((a, b) => a.record_id.localeCompare(b.record_id)),
    );
    expect(diff.body.removed).toEqual([{ record_id: id(1), candidate_id: "dataset-cand-1" }]);
    expect(diff.body.unchanged).toBe(3);
    const reverse = await call("GET", "/api/datasets/math-dpo/diff?from=2&to=1");
    expect(reverse.body.removed.map((r: { record_id: string }) => r.record_id).sort()).toEqual(
      [id(5), id(6)].sort(),
    );
  });

  it("pages by hash partition so memory holds one partition, and the pages add up to the whole diff", async () => {
    const deps = { ...datasetDeps(aws.clients, loadConfig(ExportConfig) as never), diffPartitionIds: 2 };
    const added: string[] = [];
    const removed: string[] = [];
    let cursor = 0;
    let pages = 0;
    for (;;) {
      const page = await diffVersions(deps, "math-dpo", { from: 1, to: 2, cursor });
      pages += 1;
      expect(page.partitions).toBe(3);
      added.push(...page.added.map((r) => r.record_id));
      removed.push(...page.removed.map((r) => r.record_id));
      if (page.next_cursor === null) break;
      cursor = Number(page.next_cursor);
    }
    expect(pages).toBe(3);
    expect(added.sort()).toEqual([id(5), id(6)].sort());
    expect(removed).toEqual([id(1)]);
  });

  it("refuses a diff with a version that does not exist", async () => {
    expect((await call("GET", "/api/datasets/math-dpo/diff?from=1&to=42")).status).toBe(404);
    expect((await call("GET", "/api/datasets/math-dpo/diff?from=1")).status).toBe(422);
  });
});

describe("a job of several formats", () => {
  it("pins every format: the first at the version's prefix, the others under formats/<format>/", async () => {
    const multi = await exportOf(FIRST, { format: "trl-dpo", formats: ["trl-dpo", "rag", "trl-sft"] });
    const pinned = await call("POST", "/api/datasets", { body: { name: "multi", export_id: multi } });
    expect(pinned.status).toBe(201);
    const { files, manifest } = pinned.body;
    expect(files.dataset.key).toBe("datasets/multi/v1/dataset.jsonl");
    expect(Object.keys(files.formats).sort()).toEqual(["rag", "trl-sft"]);
    expect(files.formats.rag.documents).toEqual({
      prefix: "datasets/multi/v1/formats/rag/documents/",
      count: FIRST.length,
    });
    expect(files.formats["trl-sft"].dataset.key).toBe("datasets/multi/v1/formats/trl-sft/dataset.jsonl");
    await expire(multi);
    const version = await call("GET", "/api/datasets/multi/versions/1");
    const sft = manifest.formats.find((part: { format: string }) => part.format === "trl-sft");
    const bytes = await download(version.body.format_downloads["trl-sft"].dataset.url);
    expect(sha256(bytes)).toBe(sft.files.dataset.sha256);
    expect(version.body.format_downloads["trl-sft"].dataset.file_name).toBe("multi-v1.trl-sft.jsonl");
    expect(await keysUnder("datasets/multi/v1/formats/rag/documents/")).toHaveLength(FIRST.length * 2);
    expect(sha256(await download(version.body.downloads.dataset.url))).toBe(manifest.files.dataset.sha256);
  });
});

describe("RAG versions", () => {
  it("holds nothing but documents and their sidecars under the version's documents prefix", async () => {
    const rag = await exportOf(FIRST, { format: "rag", options: { bedrock_kb_prefix: "separate" } });
    const pinned = await call("POST", "/api/datasets", { body: { name: "kb", export_id: rag } });
    expect(pinned.status).toBe(201);
    const { documents } = pinned.body.files;
    expect(documents).toEqual({ prefix: "datasets/kb/v1/documents/", count: FIRST.length });
    await expire(rag, `exports/kb/${rag}/`);
    const keys = await keysUnder(documents.prefix);
    expect(keys).toHaveLength(FIRST.length * 2);
    for (const key of keys)
      expect(key).toMatch(/^datasets\/kb\/v1\/documents\/[0-9a-f]{32}\.txt(\.metadata\.json)?$/);
    const sidecar = JSON.parse(String(await objectBytes(keys.find((k) => k.endsWith(".json")) as string)));
    expect(sidecar.metadataAttributes).toBeDefined();
  });
});

describe("flywheel datasets", () => {
  let server: HttpApiServer;
  let dir: string;
  const target = () => ["--api-url", server.url, "--token", TOKEN];
  /** Runs the command with --json and returns its one document. */
  async function json(args: string[]) {
    const printed: string[] = [];
    const code = await datasetsCommand(
      [...args, ...target()],
      commandIo(true, (line) => printed.push(line)),
    );
    expect(code).toBe(0);
    expect(printed).toHaveLength(1);
    return JSON.parse(printed[0] as string);
  }

  beforeAll(async () => {
    server = await startHttpApi({ port: 0, handler: api, region: "us-east-1" });
    dir = await mkdtemp(join(tmpdir(), "flywheel-datasets-cli-"));
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("pins, lists, diffs and downloads as the API does", async () => {
    const first = await exportOf(FIRST, { format: "trl-sft" });
    const second = await exportOf(SECOND, { format: "trl-sft" });
    const v1 = await json(["pin", "cli-sft", first]);
    expect(v1).toMatchObject({ name: "cli-sft", version: 1, state: "ready", export_id: first });
    expect((await json(["pin", "cli-sft", first])).version).toBe(1);
    expect((await json(["pin", "cli-sft", second])).version).toBe(2);

    const listed = await json(["list", "cli-sft"]);
    expect(listed.versions.map((v: { export_id: string }) => v.export_id)).toEqual([first, second]);
    expect((await json(["list"])).datasets.map((d: { name: string }) => d.name)).toContain("cli-sft");

    const diff = await json(["diff", "cli-sft", "1", "2"]);
    const sft = (n: number) => recordId(`dataset-cand-${n}`, "trl-sft");
    expect(diff.added.map((r: { record_id: string }) => r.record_id).sort()).toEqual([sft(5), sft(6)].sort());
    expect(diff.removed.map((r: { record_id: string }) => r.record_id)).toEqual([sft(1)]);
    expect(diff.unchanged).toBe(3);

    await expire(first);
    const out = join(dir, "v1.jsonl");
    const downloaded = await json(["download", "cli-sft", "1", "-o", out]);
    expect(downloaded.sha256).toBe(v1.files.dataset.sha256);
    expect(sha256(await readFile(out))).toBe(v1.manifest.files.dataset.sha256);

    const human: string[] = [];
    expect(
      await datasetsCommand(
        ["diff", "cli-sft", "1", "2", ...target()],
        commandIo(false, (l) => human.push(l)),
      ),
    ).toBe(0);
    expect(human.at(-1)).toBe("cli-sft v1 → v2: 2 added, 1 removed, 3 unchanged");
    expect(human.filter((line) => line.startsWith("+ "))).toHaveLength(2);
  });
});

describe("the API's contract", () => {
  /** The reply parsed with the contract's schema for its route and status (what the CLI's types come from). */
  const conforms = async (route: keyof typeof API_CONTRACT, path: string, request: HttpRequest = {}) => {
    const [method] = route.split(" ");
    const reply = await call(method ?? "GET", path, request);
    const schema = (API_CONTRACT[route].responses as Record<number, { safeParse: (v: unknown) => unknown }>)[
      reply.status
    ];
    expect(schema, `${route} answered ${reply.status}`).toBeDefined();
    expect(schema?.safeParse(reply.body)).toMatchObject({ success: true });
    return reply;
  };

  it("describes what the dataset routes answer: versions, lists, downloads and diffs", async () => {
    expect(
      (
        await conforms("POST /api/datasets", "/api/datasets", {
          body: { name: "math-dpo", export_id: v1Export },
        })
      ).status,
    ).toBe(200);
    await conforms("GET /api/datasets", "/api/datasets");
    await conforms("GET /api/datasets/:name", "/api/datasets/math-dpo");
    const ready = await conforms(
      "GET /api/datasets/:name/versions/:version",
      "/api/datasets/math-dpo/versions/1",
    );
    expect(ready.body.downloads.dataset.url).toEqual(expect.any(String));
    // A RAG version: its documents' prefix and count beside the dataset.
    const rag = await conforms("GET /api/datasets/:name/versions/:version", "/api/datasets/kb/versions/1");
    expect(rag.body.files.documents).toMatchObject({ count: expect.any(Number) });
    const diff = await conforms("GET /api/datasets/:name/diff", "/api/datasets/math-dpo/diff?from=1&to=2");
    expect(diff.body).toMatchObject({ unchanged: expect.any(Number), formats: { from: "trl-dpo" } });
    // A schema that did not describe these replies would fail here: one without `unchanged` is refused.
    const diffSchema = API_CONTRACT["GET /api/datasets/:name/diff"].responses[200];
    const { unchanged: _unchanged, ...withoutUnchanged } = diff.body;
    expect(diffSchema.safeParse(withoutUnchanged).success).toBe(false);
  });
});
