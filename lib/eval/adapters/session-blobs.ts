import { createHash } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { PromptMessage } from "../../common/domain/candidate.ts";
import { BUCKET_PREFIXES } from "../../common/resources.ts";
import type { SessionMessage } from "../domain/eval-session.ts";

/** Keeps message lists too big for an item. */
export interface SessionMessageBlobs {
  /** Stores the JSON of a session's messages and returns its key. */
  put(sessionId: string, messagesJson: string): Promise<string>;
  get(key: string): Promise<SessionMessage[]>;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

const StoredMessages = z.array(PromptMessage);

/**
 * Message lists under `blobs/sessions/<session hash>/<content hash>.json`. Keys are named by
 * content, so a pointer only ever names the list it was written with, even when a write of the
 * session loses a race after its upload.
 */
export class S3SessionMessageBlobs implements SessionMessageBlobs {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(sessionId: string, messagesJson: string): Promise<string> {
    const key = `${BUCKET_PREFIXES.blobs}sessions/${sha256(sessionId)}/${sha256(messagesJson)}.json`;
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: messagesJson,
        ContentType: "application/json",
      }),
    );
    return key;
  }

  async get(key: string): Promise<SessionMessage[]> {
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return StoredMessages.parse(JSON.parse((await object.Body?.transformToString("utf8")) ?? "[]"));
  }
}
