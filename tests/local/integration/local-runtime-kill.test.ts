import { createHash } from "node:crypto";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { publishCorrection } from "../../../lib/ingest/client/publish-correction.ts";
import type { LocalConfig } from "../../../local/local-config.ts";
import { approvedCandidate, putCandidates } from "../../support/export-continuation.ts";
import {
  correctionBurst,
  correctionsDrained,
  localClients,
  seededRandom,
  statsTotal,
  storedCount,
  suiteLocalProcess,
} from "../../support/local-process.ts";

/**
 * `npm start` killed outright (SIGKILL) at a random point — the seed is printed, and
 * FLYWHEEL_TEST_SEED repeats a run — of an export and of an ingest burst, then started again on
 * the same data folder: the export finishes by itself with the bytes of a clean export, and every
 * correction of the burst is stored exactly once.
 */
const APPROVED = 2_000;
const BURST = 1_000;
const RUN = "2026-07-01-000000-killed-export";
/** Three starts of the runtime on a busy 2-core machine, seeding and two exports. */
const TEST_TIMEOUT_MS = 240_000;
const local = suiteLocalProcess("flywheel-kill");

/** An approved candidate of about 8 KB, each with words of its own. */
function approved(i: number): Candidate {
  const at = new Date(Date.UTC(2026, 6, 1) + i * 1_000).toISOString();
  const words = Array.from(
    { length: 600 },
    (_, k) => `w${((i * 7_919 + k * 104_729) % 50_021).toString(36)}`,
  );
  return approvedCandidate(RUN, i, at, {
    id: `${RUN}-${String(i).padStart(6, "0")}`,
    prompt_messages: [{ role: "user", content: `Problem ${i}: ${words.join(" ")}` }],
    model_response: `Answer ${i * 2}`,
    corrected_response: `Answer ${i}`,
  });
}

const seedApproved = (config: LocalConfig) =>
  putCandidates(localClients(config).db, config.tableName, APPROVED, approved, 4);

async function api(config: LocalConfig, method: string, path: string, body?: unknown) {
  const response = await fetch(`${config.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${config.reviewerToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json() as Promise<Record<string, unknown>>;
}

const exportRequest = { format: "openai-sft", filters: { run_id: RUN } };

async function exportJob(config: LocalConfig, id: string) {
  const { Item } = await localClients(config).db.send(
    new GetCommand({
      TableName: config.tableName,
      Key: { pk: `EXPORT#${id}`, sk: "EXPORT" },
      ConsistentRead: true,
    }),
  );
  return Item;
}

const succeeded = (config: LocalConfig, id: string) =>
  local.until(`export ${id} succeeded`, async () => {
    const job = await exportJob(config, id);
    if (job?.status === "failed") throw new Error(`export failed: ${job.error}`);
    return job?.status === "succeeded" ? (JSON.parse(job.manifest as string) as ExportManifest) : undefined;
  });

/** Each data file's sha256, computed from the bytes in the bucket (and checked against the manifest). */
async function fileHashes(config: LocalConfig, manifest: ExportManifest) {
  const hashes: Record<string, string> = {};
  for (const name of ["dataset", "quarantine", "records"] as const) {
    const file = manifest.files[name];
    const object = await localClients(config).s3.send(
      new GetObjectCommand({ Bucket: config.bucket, Key: file.key }),
    );
    const sha256 = createHash("sha256")
      .update(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray())
      .digest("hex");
    expect(sha256).toBe(file.sha256);
    hashes[name] = sha256;
  }
  return hashes;
}

describe("npm start killed (SIGKILL) at a random point", () => {
  it(
    "finishes an export by itself after the restart, byte for byte a clean export",
    async () => {
      const random = seededRandom("export killed at a random point");
      const began = Date.now();
      const phase = (what: string) => console.log(`${((Date.now() - began) / 1000).toFixed(1)} s: ${what}`);
      const first = await local.start();
      phase("started");
      await seedApproved(first.config);
      phase(`${APPROVED} approved candidates stored`);
      // A clean export first: the bytes to match, and how long an export takes on this machine.
      const clean = (await api(first.config, "POST", "/api/exports", exportRequest)) as { id: string };
      await local.until("the clean export under way", async () =>
        (await exportJob(first.config, clean.id))?.status === "running" ? true : undefined,
      );
      const cleanStarted = Date.now();
      const reference = await succeeded(first.config, clean.id);
      const durationMs = Date.now() - cleanStarted;
      phase(`the clean export took ${durationMs} ms`);

      // A random point within the first four fifths of the time an export takes here. A warmed-up
      // runtime may export faster than the clean run did: an export that finished before its kill
      // point is left as it is, and another one is killed sooner (the range halved each time).
      let id = "";
      let atKill: Awaited<ReturnType<typeof exportJob>>;
      let delayMs = 0;
      for (let attempt = 0, share = 0.8; ; attempt++, share /= 2) {
        ({ id } = (await api(first.config, "POST", "/api/exports", exportRequest)) as { id: string });
        await local.until("the export under way", async () =>
          (await exportJob(first.config, id))?.status === "running" ? true : undefined,
        );
        delayMs = Math.floor(random() * share * durationMs);
        await new Promise((r) => setTimeout(r, delayMs));
        atKill = await exportJob(first.config, id);
        if (atKill?.status === "running" || attempt === 4) break;
        await succeeded(first.config, id);
        phase(`an export finished before ${delayMs} ms; another is killed sooner`);
      }
      first.process.kill("SIGKILL");
      await first.exited;
      phase(`killed ${delayMs} ms into the export, ${JSON.stringify(atKill?.progress)} written`);
      expect(atKill?.status).toBe("running");

      local.clearOutput();
      const second = await local.start();
      phase("started again");
      const manifest = await succeeded(second.config, id);
      phase("the killed export succeeded");
      expect(manifest.counts).toMatchObject({ considered: APPROVED, exported: APPROVED, quarantined: 0 });
      expect(manifest.counts).toEqual(reference.counts);
      expect(await fileHashes(second.config, manifest)).toEqual(await fileHashes(second.config, reference));
      second.process.kill("SIGKILL");
      await second.exited;
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "finishes an export stopped at a checkpoint (two Ctrl-Cs) and then killed in its continuation, byte for byte a clean export",
    async () => {
      const random = seededRandom("export continuation killed at a random point");
      local.clearOutput();
      const first = await local.start();
      // The candidates of the test above, unless it failed before storing them.
      const { db } = localClients(first.config);
      const last = await db.send(
        new GetCommand({
          TableName: first.config.tableName,
          Key: { pk: `CAND#${approved(APPROVED - 1).id}`, sk: "CAND" },
        }),
      );
      if (!last.Item) await seedApproved(first.config);
      // Near-duplicates on: the fingerprints and signatures go through the checkpoint too.
      const request = { ...exportRequest, options: { near_duplicate_threshold: 0.8 } };
      const { id } = (await api(first.config, "POST", "/api/exports", request)) as { id: string };
      await local.until("the export under way", async () =>
        (await exportJob(first.config, id))?.status === "running" ? true : undefined,
      );
      await new Promise((r) => setTimeout(r, Math.floor(random() * 300)));
      first.process.kill("SIGINT");
      await local.until("the first Ctrl-C answered", async () =>
        local.output.includes("Ctrl-C again") ? true : undefined,
      );
      // A second signal within a second is tsx passing the first one on, not a person.
      await new Promise((r) => setTimeout(r, 1_100));
      first.process.kill("SIGINT");
      expect(await first.exited).toBe(0);
      expect(local.output).toContain("stopped at a checkpoint");
      const stopOutput = local.output;

      local.clearOutput();
      const second = await local.start();
      // Saved by the stopped invocation, with its continuation sent (and kept on disk) — unless
      // this machine finished the whole export before the second Ctrl-C could stop it.
      const resumed = await exportJob(second.config, id);
      if (resumed?.checkpoint) {
        expect(resumed.checkpoint).toMatchObject({ seq: 1, handed_on: true });
      } else {
        expect(resumed?.status, `${JSON.stringify(resumed)}\n${stopOutput}`).toBe("succeeded");
        console.log("the export finished before the second Ctrl-C: no continuation to kill");
      }
      // Killed at a random point of the invocation that goes on from the checkpoint.
      await new Promise((r) => setTimeout(r, Math.floor(random() * 1_000)));
      const atKill = await exportJob(second.config, id);
      second.process.kill("SIGKILL");
      await second.exited;
      console.log(`continuation killed with the job ${atKill?.status}, ${JSON.stringify(atKill?.progress)}`);

      local.clearOutput();
      const third = await local.start();
      const manifest = await succeeded(third.config, id);
      const clean = (await api(third.config, "POST", "/api/exports", request)) as { id: string };
      const reference = await succeeded(third.config, clean.id);
      expect(manifest.counts).toEqual(reference.counts);
      expect(await fileHashes(third.config, manifest)).toEqual(await fileHashes(third.config, reference));
      third.process.kill("SIGKILL");
      await third.exited;
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "ingests a burst of corrections exactly once each after the restart",
    async () => {
      const random = seededRandom("ingest burst killed at a random point");
      local.clearOutput();
      const running = await local.start();
      const burst = await correctionBurst(BURST, "kill-burst");
      const queueUrl = running.config.queues["flywheel-corrections"] as string;
      const before = await statsTotal(running.config);
      const reports = await publishCorrection(localClients(running.config).sqs, queueUrl, burst);
      expect(reports.filter((report) => !report.ok)).toEqual([]);
      // Somewhere between 5% and 80% of the burst stored.
      const killAt = Math.floor(BURST * (0.05 + 0.75 * random()));
      const storedAtKill = await local.until("the burst under way", async () => {
        const stored = (await statsTotal(running.config)) - before;
        return stored >= killAt ? stored : undefined;
      });
      running.process.kill("SIGKILL");
      await running.exited;
      console.log(`killed at ${storedAtKill} of ${BURST} stored (aimed at ${killAt})`);
      expect(storedAtKill).toBeLessThan(BURST);

      local.clearOutput();
      const restarted = await local.start();
      await local.until("the burst ingested", async () =>
        (await correctionsDrained(restarted.config)) ? true : undefined,
      );
      expect(await statsTotal(restarted.config)).toBe(before + BURST);
      const ids = reports.map((report) => (report as { recordId: string }).recordId);
      expect(new Set(ids).size).toBe(BURST);
      expect(await storedCount(restarted.config, ids)).toBe(BURST);
      restarted.process.kill("SIGKILL");
      await restarted.exited;
    },
    TEST_TIMEOUT_MS,
  );
});
