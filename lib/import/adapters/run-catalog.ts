import { paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { batchGetAll } from "../../common/adapters/batch-get.ts";
import { keys } from "../../common/adapters/table-keys.ts";
import type { RunImportState } from "../domain/run-folders.ts";
import { isRunId } from "../domain/run-upload.ts";
import type { RunFolderLister, RunRecordReader } from "../ports.ts";

/** Run folders are the "directories" right under the runs prefix: one delimiter listing. */
export class S3RunFolders implements RunFolderLister {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async listRunFolders(prefix: string): Promise<string[]> {
    const runIds: string[] = [];
    const pages = paginateListObjectsV2(
      { client: this.s3 },
      { Bucket: this.bucket, Prefix: prefix, Delimiter: "/" },
    );
    for await (const page of pages) {
      for (const common of page.CommonPrefixes ?? []) {
        const runId = (common.Prefix ?? "").slice(prefix.length).replace(/\/$/, "");
        if (isRunId(runId)) runIds.push(runId);
      }
    }
    return runIds;
  }
}

/** Run records of many runs at once, 100 keys per BatchGetItem. */
export class RunRecords implements RunRecordReader {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async readRunRecords(runIds: readonly string[]): Promise<Map<string, RunImportState>> {
    const { items } = await batchGetAll(
      this.dynamodb,
      this.tableName,
      runIds.map((id) => keys.run(id)),
      {
        projection: "run_id, #state, #counts, created_at, finished_at",
        names: { "#state": "state", "#counts": "counts" },
      },
    );
    const records = new Map<string, RunImportState>();
    for (const item of items) records.set(item.run_id as string, item as unknown as RunImportState);
    return records;
  }
}
