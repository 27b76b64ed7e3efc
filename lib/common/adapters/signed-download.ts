import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

/** How a signed link serves its object: under which file name and type, and for how long. */
export interface DownloadTerms {
  readonly fileName: string;
  readonly contentType: string;
  readonly expiresInSeconds: number;
}

/**
 * A presigned GET of `key` whose response names the file and its type (so a browser saves it as
 * `fileName`), valid for `expiresInSeconds`.
 */
export function signedDownload(
  s3: S3Client,
  bucket: string,
  key: string,
  download: DownloadTerms,
): Promise<string> {
  return getSignedUrl(
    s3,
    new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      ResponseContentType: download.contentType,
      ResponseContentDisposition: `attachment; filename="${download.fileName}"`,
    }),
    { expiresIn: download.expiresInSeconds },
  );
}
