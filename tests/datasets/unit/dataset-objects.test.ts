import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { NotFoundError } from "../../../lib/common/domain/errors.ts";
import { S3DatasetObjects } from "../../../lib/datasets/adapters/dataset-objects.ts";

const s3 = new S3Client({
  region: "us-east-1",
  credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
});
const s3Mock = mockClient(s3);
const FROM = "exports/job-1/dataset.jsonl";
const TO = "datasets/big/v1/dataset.jsonl";

const s3Error = (name: string, status: number) =>
  new S3ServiceException({ name, $fault: "client", $metadata: { httpStatusCode: status } });

/** HEAD of the destination misses; HEAD of the source answers its size. */
function sourceOf(bytes: number) {
  s3Mock.on(HeadObjectCommand, { Key: TO }).rejects(s3Error("NotFound", 404));
  s3Mock
    .on(HeadObjectCommand, { Key: FROM })
    .resolves({ ContentLength: bytes, ContentType: "application/x-ndjson" });
}

beforeEach(() => s3Mock.reset());

describe("copying a version's files", () => {
  it("copies an object up to the single-copy limit in one CopyObject, only where nothing is", async () => {
    sourceOf(1_000);
    s3Mock.on(CopyObjectCommand).resolves({});
    const objects = new S3DatasetObjects(s3, "bucket", 1_000);
    expect(await objects.copy({ from: FROM, to: TO })).toBe("copied");
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
      Bucket: "bucket",
      Key: TO,
      CopySource: `bucket/${FROM}`,
      IfNoneMatch: "*",
    });
    expect(s3Mock).not.toHaveReceivedCommand(CreateMultipartUploadCommand);
  });

  it("copies a larger object part by part with UploadPartCopy ranges and completes it conditionally", async () => {
    const size = 5 * 1024 ** 3 + 7; // just over 5 GiB: 11 parts of 512 MiB
    sourceOf(size);
    s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "upload-1" });
    s3Mock.on(UploadPartCopyCommand).callsFake((input: { PartNumber: number }) => ({
      CopyPartResult: { ETag: `"etag-${input.PartNumber}"` },
    }));
    s3Mock.on(CompleteMultipartUploadCommand).resolves({});
    const objects = new S3DatasetObjects(s3, "bucket");
    expect(await objects.copy({ from: FROM, to: TO, bytes: size })).toBe("copied");

    const parts = s3Mock.commandCalls(UploadPartCopyCommand).map((call) => call.args[0].input);
    const part = 512 * 1024 ** 2;
    expect(parts).toHaveLength(Math.ceil(size / part));
    const ranges = parts
      .map((input) => ({ n: input.PartNumber as number, range: input.CopySourceRange }))
      .sort((a, b) => a.n - b.n);
    expect(ranges[0]).toEqual({ n: 1, range: `bytes=0-${part - 1}` });
    expect(ranges.at(-1)).toEqual({
      n: parts.length,
      range: `bytes=${(parts.length - 1) * part}-${size - 1}`,
    });
    const complete = s3Mock.commandCalls(CompleteMultipartUploadCommand)[0]?.args[0].input;
    expect(complete?.IfNoneMatch).toBe("*");
    expect(complete?.MultipartUpload?.Parts?.map((p) => p.PartNumber)).toEqual(ranges.map((r) => r.n));
    expect(complete?.MultipartUpload?.Parts?.[0]?.ETag).toBe('"etag-1"');
    expect(s3Mock).not.toHaveReceivedCommand(CopyObjectCommand);
  });

  it("aborts the multipart copy when a part fails", async () => {
    sourceOf(3_000);
    s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "upload-2" });
    s3Mock.on(UploadPartCopyCommand).rejects(s3Error("InternalError", 500));
    s3Mock.on(AbortMultipartUploadCommand).resolves({});
    const objects = new S3DatasetObjects(s3, "bucket", 1_000);
    await expect(objects.copy({ from: FROM, to: TO })).rejects.toThrow();
    expect(s3Mock).toHaveReceivedCommandWith(AbortMultipartUploadCommand, { UploadId: "upload-2", Key: TO });
  });

  it("takes a destination S3 refuses with 412 (written meanwhile) as present when its size is right", async () => {
    s3Mock
      .on(HeadObjectCommand, { Key: TO })
      .rejectsOnce(s3Error("NotFound", 404))
      .resolves({ ContentLength: 10 });
    s3Mock.on(HeadObjectCommand, { Key: FROM }).resolves({ ContentLength: 10 });
    s3Mock.on(CopyObjectCommand).rejects(s3Error("PreconditionFailed", 412));
    const objects = new S3DatasetObjects(s3, "bucket");
    expect(await objects.copy({ from: FROM, to: TO, bytes: 10 })).toBe("present");
  });

  it("says the source is gone when the export's file has expired", async () => {
    s3Mock.on(HeadObjectCommand).rejects(s3Error("NotFound", 404));
    const objects = new S3DatasetObjects(s3, "bucket");
    await expect(objects.copy({ from: FROM, to: TO })).rejects.toBeInstanceOf(NotFoundError);
  });
});
