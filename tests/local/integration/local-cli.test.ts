import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { S3SpyEvent } from "fauxqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listRuns, uploadRun } from "../../../cli/runs.ts";
import type { Target } from "../../../cli/target.ts";
import { type RunningFauxqs, startS3SqsEmulator } from "../../../local/emulators.ts";

let emulator: RunningFauxqs;
let target: Target;
let work: string;

beforeAll(async () => {
  emulator = await startS3SqsEmulator();
  const s3 = new S3Client({
    region: "us-east-1",
    endpoint: emulator.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  await s3.send(new CreateBucketCommand({ Bucket: "cli-test" }));
  target = { s3, bucket: "cli-test", description: "test emulator" };
  work = await mkdtemp(join(tmpdir(), "flywheel-cli-"));
});

afterAll(async () => {
  await emulator?.stop();
  await rm(work, { recursive: true, force: true });
});

async function runFolder(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = join(work, name);
  for (const [path, body] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), body);
  }
  return dir;
}

const uploadedKeys = () =>
  emulator.server.spy
    .getAllMessages()
    .filter((m): m is S3SpyEvent => m.service === "s3" && m.status === "uploaded")
    .map((m) => m.key);

describe("flywheel runs upload", () => {
  it("uploads the folder under runs/<folder name>/, candidates last", async () => {
    const dir = await runFolder("2026-04-07-143022", {
      "sft_candidates.jsonl": '{"id":"a"}\n',
      "meta.json": "{}",
      "logs/worker 1.txt": "log",
      ".DS_Store": "x",
    });
    const lines: string[] = [];
    const uploaded = await uploadRun(target, dir, { print: (line) => lines.push(line) });

    expect(uploaded.map((u) => u.key)).toEqual([
      "runs/2026-04-07-143022/logs/worker 1.txt",
      "runs/2026-04-07-143022/meta.json",
      "runs/2026-04-07-143022/sft_candidates.jsonl",
    ]);
    expect(uploadedKeys().slice(-3)).toEqual(uploaded.map((u) => u.key));
    expect(lines.join("\n")).toContain("s3://cli-test/runs/2026-04-07-143022/sft_candidates.jsonl");
    const head = await target.s3.send(
      new HeadObjectCommand({ Bucket: "cli-test", Key: "runs/2026-04-07-143022/sft_candidates.jsonl" }),
    );
    expect(head.ContentType).toBe("application/x-ndjson");
    expect(head.ContentLength).toBe(11);
  });

  it("uses --run-id over the folder name and uploads big files in parts", async () => {
    const dir = await runFolder("whatever", { "sft_candidates.jsonl": Buffer.alloc(17 * 1024 * 1024, "y") });
    const [upload] = await uploadRun(target, dir, { runId: "big-run" });
    expect(upload?.key).toBe("runs/big-run/sft_candidates.jsonl");
    expect(upload?.size).toBe(17 * 1024 * 1024);
    expect(upload?.eTag).toMatch(/-3$/);
  });

  it("refuses a folder without sft_candidates.jsonl or with an invalid run id", async () => {
    const empty = await runFolder("no-candidates", { "notes.txt": "n" });
    await expect(uploadRun(target, empty)).rejects.toThrow(/has no sft_candidates\.jsonl/);
    const dir = await runFolder("ok", { "sft_candidates.jsonl": "{}\n" });
    await expect(uploadRun(target, dir, { runId: "../escape" })).rejects.toThrow(/not a valid run id/);
    await expect(uploadRun(target, join(work, "missing"))).rejects.toThrow(/is not a folder/);
  });
});

describe("flywheel runs list", () => {
  it("lists run folders with their size and whether the candidates file is there", async () => {
    const runs = await listRuns(target);
    const byId = Object.fromEntries(runs.map((r) => [r.runId, r]));
    expect(byId["2026-04-07-143022"]).toMatchObject({ files: 3, hasCandidates: true });
    expect(byId["big-run"]).toMatchObject({ files: 1, bytes: 17 * 1024 * 1024, hasCandidates: true });
    expect(runs[0]?.runId).toBe("big-run");
  });
});
