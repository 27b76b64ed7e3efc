import { afterEach, describe, expect, it, vi } from "vitest";
import type {
  CopyStep,
  DatasetSummary,
  DatasetVersion,
  VersionFiles,
} from "../../../lib/datasets/domain/dataset-version.ts";
import type { DatasetObjects, DatasetStore } from "../../../lib/datasets/ports.ts";
import { pinDataset } from "../../../lib/datasets/usecases/datasets.ts";
import type { ExportJob } from "../../../lib/exports/domain/export-job.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";

const DOCUMENTS = 40;
const receipt = (key: string) => ({
  key,
  content_type: "application/x-ndjson",
  bytes: 10,
  lines: 1,
  sha256: "0".repeat(64),
});

/** A finished RAG export with 40 documents (80 objects with their sidecars) in a bucket in memory. */
function setup() {
  const bucket = new Map<string, number>();
  const prefix = "exports/job-1/";
  for (const name of ["dataset.jsonl", "quarantine.jsonl", "records.jsonl", "manifest.json"])
    bucket.set(`${prefix}${name}`, 10);
  for (let i = 0; i < DOCUMENTS; i++) {
    const name = `${prefix}documents/${String(i).padStart(3, "0")}.txt`;
    bucket.set(name, 10);
    bucket.set(`${name}.metadata.json`, 10);
  }
  const manifest = {
    files: {
      dataset: receipt(`${prefix}dataset.jsonl`),
      quarantine: receipt(`${prefix}quarantine.jsonl`),
      records: receipt(`${prefix}records.jsonl`),
      documents: { prefix: `${prefix}documents/`, count: DOCUMENTS },
    },
  } as unknown as ExportManifest;
  const job = { id: "job-1", format: "rag", status: "succeeded", manifest } as unknown as ExportJob;

  const copied: string[] = [];
  const listedFrom: (string | undefined)[] = [];
  const objects: DatasetObjects = {
    async copy(step: CopyStep) {
      if (bucket.has(step.to)) return "present";
      if (!bucket.has(step.from)) throw new Error(`no ${step.from}`);
      bucket.set(step.to, bucket.get(step.from) as number);
      copied.push(step.to);
      return "copied";
    },
    async *list(from: string, startAfter?: string) {
      listedFrom.push(startAfter);
      const keys = [...bucket.keys()]
        .filter((k) => k.startsWith(from) && (!startAfter || k > startAfter))
        .sort();
      for (let i = 0; i < keys.length; i += 25)
        yield keys.slice(i, i + 25).map((key) => ({ key, bytes: 10 }));
    },
    lines: () => {
      throw new Error("not read");
    },
    signedDownload: async (key) => `https://signed/${key}`,
  };

  const versions = new Map<number, DatasetVersion>();
  let last = 0;
  let pin: number | null = null;
  const store: DatasetStore = {
    pinnedVersion: async () => pin,
    nextVersion: async () => ++last,
    async create(version) {
      versions.set(version.version, version);
      pin = version.version;
      return { created: true, version: version.version };
    },
    get: async (_name, number) => versions.get(number) ?? null,
    versions: async () => [...versions.values()],
    dataset: async () => ({ name: "kb", last_version: last }) as DatasetSummary,
    list: async () => [],
    async saveProgress(_name, number, through) {
      const version = versions.get(number) as DatasetVersion;
      versions.set(number, { ...version, copied_through: through });
    },
    async markReady(_name, number, files: VersionFiles, at) {
      const version = versions.get(number) as DatasetVersion;
      versions.set(number, { ...version, state: "ready", files, ready_at: at });
    },
  };
  const deps = {
    datasets: store,
    objects,
    exports: { get: async () => job },
    urlExpirySeconds: 900,
    maxUrlExpirySeconds: 3600,
    copyConcurrency: 4,
  };
  return { deps, copied, listedFrom, bucket };
}

afterEach(() => vi.useRealTimers());

describe("a pin that runs out of time among the documents", () => {
  it("remembers the last document copied, lists on from there next time, and copies each object once", async () => {
    const { deps, copied, listedFrom, bucket } = setup();
    vi.useFakeTimers({ now: Date.UTC(2026, 5, 1) });
    const deadline = Date.now() + 1_000;
    // Time runs out once 30 objects are copied.
    const copy = deps.objects.copy.bind(deps.objects);
    deps.objects.copy = async (step) => {
      const result = await copy(step);
      if (copied.length >= 30) vi.setSystemTime(deadline + 1);
      return result;
    };
    const first = await pinDataset(deps, { name: "kb", export_id: "job-1" }, "ana", { deadline });
    expect(first.version.state).toBe("copying");
    const through = first.version.copied_through as string;
    expect(through).toMatch(/^exports\/job-1\/documents\//);
    expect((await deps.datasets.get("kb", 1))?.copied_through).toBe(through);
    const afterFirst = copied.length;

    vi.setSystemTime(Date.UTC(2026, 5, 2));
    const second = await pinDataset(deps, { name: "kb", export_id: "job-1" }, "ana", {
      deadline: Date.now() + 1_000,
    });
    expect(second).toMatchObject({ outcome: "existing", version: { state: "ready" } });
    expect(listedFrom).toEqual([undefined, through]);
    // Every object of the export copied exactly once over the two pins.
    expect(new Set(copied).size).toBe(copied.length);
    expect(copied).toHaveLength(4 + DOCUMENTS * 2);
    expect(afterFirst).toBeLessThan(copied.length);
    expect([...bucket.keys()].filter((k) => k.startsWith("datasets/kb/v1/documents/"))).toHaveLength(
      DOCUMENTS * 2,
    );
  });
});
