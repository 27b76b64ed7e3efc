import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import * as z from "zod";
import { putContentBlob } from "../../common/adapters/content-blobs.ts";
import { PromptMessage } from "../../common/domain/candidate.ts";
import type { SessionMessage } from "../domain/eval-session.ts";

/** Keeps message lists too big for an item. */
export interface SessionMessageBlobs {
  /** Stores the JSON of a session's messages and returns its key. */
  put(sessionId: string, messagesJson: string): Promise<string>;
  get(key: string): Promise<SessionMessage[]>;
}

const StoredMessages = z.array(PromptMessage);

/** Message lists too big for an item, named by content (`putContentBlob`). */
export class S3SessionMessageBlobs implements SessionMessageBlobs {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  put(sessionId: string, messagesJson: string): Promise<string> {
    return putContentBlob(this.s3, this.bucket, "sessions", sessionId, messagesJson);
  }

  async get(key: string): Promise<SessionMessage[]> {
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return StoredMessages.parse(JSON.parse((await object.Body?.transformToString("utf8")) ?? "[]"));
  }
}
