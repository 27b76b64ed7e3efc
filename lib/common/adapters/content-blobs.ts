import { createHash } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { BUCKET_PREFIXES } from "../resources.ts";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * Writes a JSON body kept outside its record under `blobs/<kind>/<owner hash>/<content hash>.json`
 * and returns the key. Keys are named by content, so a write whose record then loses its
 * conditional write (an id already stored, a race) lands beside what is stored and never changes
 * a byte of it; a pointer only ever names the body it was written with.
 */
export async function putContentBlob(
  s3: S3Client,
  bucket: string,
  kind: "candidates" | "sessions",
  ownerId: string,
  json: string,
): Promise<string> {
  const key = `${BUCKET_PREFIXES.blobs}${kind}/${sha256(ownerId)}/${sha256(json)}.json`;
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: json, ContentType: "application/json" }),
  );
  return key;
}
