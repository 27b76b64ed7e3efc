import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type DownloadTerms, signedDownload } from "../../common/adapters/signed-download.ts";
import { streamedUpload } from "../../common/adapters/streamed-upload.ts";
import type { ExportObjects, ObjectWriter } from "../ports.ts";

/** Multipart parts of 8 MiB, two uploading at a time: about 24 MiB in flight per file at most. */
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;
/** What the stream holds before a write waits for the upload to catch up. */
const STREAM_BUFFER_BYTES = 1024 * 1024;

/**
 * An export's files in the bucket: streamed through the one multipart writer (a writer waits
 * whenever the upload falls behind), small objects put whole,
 * and presigned GETs whose response headers name the file and its type.
 */
export class S3ExportObjects implements ExportObjects {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  openWriter(key: string, contentType: string): ObjectWriter {
    const upload = streamedUpload(this.s3, this.bucket, key, contentType, {
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      bufferBytes: STREAM_BUFFER_BYTES,
    });
    return {
      write: (chunk) => upload.write(chunk),
      close: async () => {
        // Nothing was written: an empty object (an empty dataset is a file, not an error).
        if (!(await upload.close())) await this.put(key, "", contentType);
      },
      abort: () => upload.abort(),
    };
  }

  async put(key: string, body: string, contentType: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ContentLength: Buffer.byteLength(body),
      }),
    );
  }

  signedDownload(key: string, download: DownloadTerms): Promise<string> {
    return signedDownload(this.s3, this.bucket, key, download);
  }
}
