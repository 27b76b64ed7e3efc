import * as z from "zod";

/** The rest of an import, handed on to a later invocation (a message on the run-uploads queue). */
export interface ImportContinuation {
  readonly bucket: string;
  readonly key: string;
  readonly sequencer?: string;
  readonly runsPrefix?: string;
  readonly importId: string;
}

/**
 * The run-uploads message that hands the rest of an import on: beside S3's notifications on the
 * same queue, told apart by its one top-level field.
 */
const ContinuationMessage = z.object({
  import_continuation: z.object({
    bucket: z.string().min(1),
    key: z.string().min(1),
    sequencer: z.string().optional(),
    runs_prefix: z.string().optional(),
    import_id: z.string().min(1),
  }),
});

export function continuationMessage(continuation: ImportContinuation): string {
  return JSON.stringify({
    import_continuation: {
      bucket: continuation.bucket,
      key: continuation.key,
      sequencer: continuation.sequencer,
      runs_prefix: continuation.runsPrefix,
      import_id: continuation.importId,
    },
  });
}

/** The continuation a message body holds, or `null` for any other message. */
export function continuationIn(body: string): ImportContinuation | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  if (json === null || typeof json !== "object" || !("import_continuation" in json)) return null;
  const { import_continuation: c } = ContinuationMessage.parse(json);
  return {
    bucket: c.bucket,
    key: c.key,
    importId: c.import_id,
    ...(c.sequencer !== undefined ? { sequencer: c.sequencer } : {}),
    ...(c.runs_prefix !== undefined ? { runsPrefix: c.runs_prefix } : {}),
  };
}
