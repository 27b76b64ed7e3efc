import type { S3Client } from "@aws-sdk/client-s3";
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { openObjectLines, signedObjectLink } from "../../common/adapters/quarantine-objects.ts";
import { keys } from "../../common/adapters/table-keys.ts";
import { BUCKET_PREFIXES } from "../../common/resources.ts";
import type { QuarantineFileLink, RunQuarantineReader, RunQuarantineRecord } from "../ports.ts";

/**
 * Runs' quarantine files as `S3Quarantine` writes them (`quarantine/runs/<run_id>/<import_id>.jsonl`),
 * found through the run record, read in ranged GETs and handed out as signed links.
 */
export class RunQuarantineFiles implements RunQuarantineReader {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async readRun(runId: string): Promise<RunQuarantineRecord | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.run(runId),
        ProjectionExpression: "run_id, import_id, #state, quarantine_key, #counts",
        ExpressionAttributeNames: { "#state": "state", "#counts": "counts" },
      }),
    );
    if (!Item) return null;
    const counts = (Item.counts ?? {}) as {
      quarantined?: number;
      quarantined_by_reason?: Record<string, number>;
    };
    return {
      run_id: String(Item.run_id ?? runId),
      import_id: String(Item.import_id ?? ""),
      state: String(Item.state ?? "unknown"),
      quarantine_key: typeof Item.quarantine_key === "string" ? Item.quarantine_key : null,
      quarantined: typeof counts.quarantined === "number" ? counts.quarantined : null,
      quarantined_by_reason: counts.quarantined_by_reason ?? null,
    };
  }

  keyOf(runId: string, importId: string): string {
    return `${BUCKET_PREFIXES.quarantine}runs/${runId}/${importId}.jsonl`;
  }

  openLines(key: string, from: number) {
    return openObjectLines(this.s3, this.bucket, key, from, ["query", "cursor"]);
  }

  signedLink(key: string, fileName: string, expiresInSeconds: number): Promise<QuarantineFileLink> {
    return signedObjectLink(this.s3, this.bucket, key, {
      fileName,
      contentType: "application/x-ndjson",
      expiresInSeconds,
      now: this.now(),
    });
  }
}
