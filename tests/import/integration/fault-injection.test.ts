import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAwsClients } from "../../../lib/common/adapters/aws-clients.ts";
import { readCounters } from "../../../lib/common/adapters/counters.ts";
import { importRun } from "../../../lib/import/usecases/import-run.ts";
import { importRunDeps } from "../../../lib/import/wiring.ts";
import { writeRun } from "../../../samples/generate-run.ts";
import { candidatesOfRun, provisionTestAws, type TestAws } from "../../support/aws.ts";
import { injectDynamoFaults } from "../../support/faults.ts";
import { storedRun } from "../../support/steps.ts";

const RUN_ID = "faulty-run";
const LINES = 200;
let aws: TestAws;
let dir: string;

beforeAll(async () => {
  aws = await provisionTestAws("faults");
  dir = mkdtempSync(join(tmpdir(), "flywheel-faults-"));
  const file = join(dir, "sft_candidates.jsonl");
  await writeRun(file, { count: LINES, runId: RUN_ID, broken: 0.02, seed: 11 });
  await aws.clients.s3.send(
    new PutObjectCommand({
      Bucket: aws.resources.bucket,
      Key: `runs/${RUN_ID}/sft_candidates.jsonl`,
      Body: readFileSync(file),
    }),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function storedIdsOfRun(runId: string): Promise<string[]> {
  return (await candidatesOfRun(aws, runId)).map((item) => item.id as string);
}

describe("import under injected DynamoDB faults", () => {
  it("retries throttled writes and unprocessed batch reads, losing and duplicating nothing", async () => {
    // A client of its own, so the faults touch only this import.
    const clients = createAwsClients({ AWS_REGION: "us-east-1", ...aws.env });
    const faults = injectDynamoFaults(clients.dynamodb, {
      throttleEvery: { operations: ["TransactWriteItems", "BatchGetItem"], n: 3 },
      unprocessedEvery: 2,
    });
    const deps = importRunDeps(clients, { tableName: aws.resources.tableName, bucket: aws.resources.bucket });
    const upload = {
      bucket: aws.resources.bucket,
      key: `runs/${RUN_ID}/sft_candidates.jsonl`,
      sequencer: "01",
    };

    const first = await importRun({ ...deps, limits: { chunkSize: 20 } }, upload);

    expect(faults.throttled).toBeGreaterThan(0);
    if (first.status !== "imported") throw new Error("expected an import");
    const { counts } = first.summary;
    expect(counts.lines).toBe(LINES);
    expect(counts.imported + counts.skipped + counts.quarantined).toBe(LINES);
    expect(counts.skipped).toBe(0);
    const ids = await storedIdsOfRun(RUN_ID);
    expect(ids).toHaveLength(counts.imported);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await readCounters(aws.clients.dynamodb, aws.resources.tableName)).total).toBe(counts.imported);

    // Again under the same faults (a re-upload, which reads its stored ids back): unprocessed reads
    // must not look like absent ids.
    const second = await importRun({ ...deps, limits: { chunkSize: 20 } }, { ...upload, sequencer: "02" });

    expect(faults.unprocessedKeys).toBeGreaterThan(0);
    expect(second.status === "imported" && second.summary.counts).toMatchObject({
      imported: 0,
      skipped: counts.imported,
      quarantined: counts.quarantined,
    });
    expect((await readCounters(aws.clients.dynamodb, aws.resources.tableName)).total).toBe(counts.imported);
    expect((await storedRun(aws, RUN_ID))?.state).toBe("completed");
  });
});
