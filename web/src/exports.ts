import { ApiError, type ExportJob, type ReviewApi } from "./api.ts";

export type ExportResult =
  | { readonly kind: "url"; readonly url: string }
  | { readonly kind: "file"; readonly blob: Blob; readonly filename: string };

export interface ExportOptions {
  readonly format?: string;
  readonly onProgress?: (text: string) => void;
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

const FAILED = new Set(["failed", "error", "cancelled"]);

/** The signed URL of a finished job, under whichever name the job reply gives it. */
export function downloadUrlOf(job: ExportJob): string | null {
  const nested = job.download as { url?: unknown } | undefined;
  for (const value of [job.download_url, job.url, job.downloadUrl, job.signed_url, nested?.url]) {
    if (typeof value === "string" && /^https?:\/\//.test(value)) return value;
  }
  return null;
}

/**
 * Creates an SFT export job and waits (bounded) until it has a signed download URL. Where the
 * exports API is not deployed (404/405), falls back to Avocet's `GET /api/sft/export`.
 */
export async function exportDataset(api: ReviewApi, options: ExportOptions = {}): Promise<ExportResult> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((done) => setTimeout(done, ms)));
  const now = options.now ?? Date.now;
  const progress = options.onProgress ?? (() => {});
  let job: ExportJob;
  try {
    progress("Creating the export…");
    job = await api.createExport(options.format ?? "openai-sft");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
      progress("Building the export…");
      const blob = await api.legacyExport();
      return { kind: "file", blob, filename: `sft_export_${stamp(new Date(now()))}.jsonl` };
    }
    throw error;
  }
  const deadline = now() + (options.timeoutMs ?? 120_000);
  let delay = 500;
  for (;;) {
    const url = downloadUrlOf(job);
    if (url) return { kind: "url", url };
    if (job.status && FAILED.has(job.status)) {
      throw new Error(`The export failed: ${String(job.error ?? job.reason ?? job.status)}`);
    }
    if (now() > deadline) throw new Error("The export is taking too long; try again in a minute.");
    progress(`Export ${job.status ?? "queued"}…`);
    await sleep(delay);
    delay = Math.min(delay * 1.5, 3_000);
    job = await api.exportJob(job.id);
  }
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

/** Saves a result: a signed URL is opened (its response names the file), a blob is saved as is. */
export function startDownload(result: ExportResult, doc: Document = document): void {
  const link = doc.createElement("a");
  if (result.kind === "url") {
    link.href = result.url;
  } else {
    link.href = URL.createObjectURL(result.blob);
    link.download = result.filename;
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  }
  link.rel = "noopener";
  link.style.display = "none";
  doc.body.append(link);
  link.click();
  link.remove();
}
