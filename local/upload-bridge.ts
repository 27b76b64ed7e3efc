import { HeadObjectCommand, NotFound, type S3Client } from "@aws-sdk/client-s3";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { buildObjectCreatedEvent, createSequencer, isRunUploadKey } from "./s3-events.ts";

export interface UploadBridge {
  /** Sends an ObjectCreated notification when the key matches the stack's run-upload filter. */
  objectCreated(bucket: string, key: string): void;
  /** Resolves when every notification scheduled so far has been sent (or has failed). */
  drain(): Promise<void>;
}

/**
 * Stands in for the bucket notification the stack configures (fauxqs sends none): for a new
 * `runs/<run_id>/sft_candidates.jsonl` it enqueues the S3 event AWS would deliver.
 */
export function createUploadBridge(options: {
  s3: S3Client;
  sqs: SQSClient;
  bucket: string;
  queueUrl: string;
  region: string;
  configurationId: string;
  log: (line: string) => void;
}): UploadBridge {
  const { s3, sqs, bucket, queueUrl, region, configurationId, log } = options;
  const nextSequencer = createSequencer();
  const pending = new Set<Promise<void>>();

  const notify = async (key: string) => {
    let head: Awaited<ReturnType<typeof headObject>>;
    try {
      head = await headObject(s3, bucket, key);
    } catch (error) {
      if (error instanceof NotFound) return;
      throw error;
    }
    const event = buildObjectCreatedEvent({
      bucket,
      key,
      size: head.ContentLength ?? 0,
      eTag: head.ETag ?? "",
      region,
      sequencer: nextSequencer(),
      configurationId,
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(event) }));
    log(`upload bridge: queued import of s3://${bucket}/${key}`);
  };

  return {
    objectCreated(eventBucket, key) {
      if (eventBucket !== bucket || !isRunUploadKey(key)) return;
      const task: Promise<void> = notify(key)
        .catch((error: unknown) => log(`upload bridge: s3://${bucket}/${key} failed: ${String(error)}`))
        .finally(() => pending.delete(task));
      pending.add(task);
    },
    async drain() {
      while (pending.size > 0) await Promise.all(pending);
    },
  };
}

function headObject(s3: S3Client, bucket: string, key: string) {
  return s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
}
