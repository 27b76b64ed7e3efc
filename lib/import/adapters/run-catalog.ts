import { GetObjectCommand, NoSuchKey, paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { batchGetAll } from "../../common/adapters/batch-get.ts";
import { keys } from "../../common/adapters/table-keys.ts";
import type { RunImportState } from "../domain/run-folders.ts";
import { isRunId } from "../domain/run-upload.ts";
import type { RunFolderLister, RunLineCounter, RunRecordReader } from "../ports.ts";

/** Run folders are the "directories" right under the runs prefix: one delimiter listing. */
export class S3RunFolders implements RunFolderLister, RunLineCounter {
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

  /**
   * One ranged GET of at most `maxBytes + 1` bytes: an object longer than `maxBytes`, or none,
   * is `null`; otherwise its non-blank lines.
   */
  async countLines(key: string, maxBytes: number): Promise<number | null> {
    let text: string;
    try {
      const object = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${maxBytes}` }),
      );
      const bytes = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
      if (bytes.byteLength > maxBytes) return null;
      text = new TextDecoder().decode(bytes);
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === "InvalidRange") return null;
      throw error;
    }
    return text.split("\n").filter((line) => line.trim() !== "").length;
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
