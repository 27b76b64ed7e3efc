import type { z } from "zod";
import type { ProvenanceReport } from "../../lib/common/domain/stats.ts";
import type { RunQuarantinePage } from "../../lib/import/usecases/run-quarantine.ts";
import type { IngestQuarantinePage } from "../../lib/ingest/usecases/quarantine-listing.ts";
import type { BackfillRequest } from "../../lib/provenance/domain/provenance-requests.ts";
import type {
  BackfillOutcome,
  BackfillPreview,
  InvalidProvenancePage,
} from "../../lib/provenance/usecases/provenance.ts";

export type {
  BackfillOutcome,
  BackfillPreview,
  IngestQuarantinePage,
  InvalidProvenancePage,
  ProvenanceReport,
  RunQuarantinePage,
};

/** The client's one way to call the API: method, path, JSON body; the answer or an `ApiError`. */
export type ApiRequest = <T>(
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
) => Promise<T>;

/** What `POST /api/provenance/backfill` takes, as a caller writes it. */
export type BackfillInput = z.input<typeof BackfillRequest>;

type Params = Readonly<Record<string, string | number | null | undefined>>;

function queryString(params: Params): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Data quality: what was quarantined on the way in, and provenance coverage and backfill. */
export function createQualityApi(request: ApiRequest) {
  return {
    /** A page of a run's quarantined lines (`cursor` is the byte offset the last page gave). */
    runQuarantine(
      runId: string,
      query: { reason?: string | null; cursor?: string | null; importId?: string | null; limit?: number },
      signal?: AbortSignal,
    ) {
      const search = queryString({
        reason: query.reason,
        cursor: query.cursor,
        import_id: query.importId,
        limit: query.limit,
      });
      return request<RunQuarantinePage>(
        "GET",
        `/api/sft/runs/${encodeURIComponent(runId)}/quarantine${search}`,
        undefined,
        signal,
      );
    },
    /** A page of one day's refused messages of the corrections queue (the newest day by default). */
    ingestQuarantine(
      query: { day?: string | null; reason?: string | null; cursor?: string | null; limit?: number },
      signal?: AbortSignal,
    ) {
      return request<IngestQuarantinePage>(
        "GET",
        `/api/sft/ingest/quarantine${queryString(query)}`,
        undefined,
        signal,
      );
    },
    provenanceReport() {
      return request<ProvenanceReport>("GET", "/api/provenance/report");
    },
    /** Records whose provenance is incomplete, with the fields each lacks. */
    provenanceMissing(query: {
      status?: string | null;
      source?: string | null;
      cursor?: string | null;
      limit?: number;
    }) {
      return request<InvalidProvenancePage>("GET", `/api/provenance/validate${queryString(query)}`);
    },
    /** What a backfill would fill, writing nothing. */
    previewBackfill(body: Omit<BackfillInput, "dry_run">) {
      return request<BackfillPreview>("POST", "/api/provenance/backfill", { ...body, dry_run: true });
    },
    backfill(body: Omit<BackfillInput, "dry_run">) {
      return request<BackfillOutcome>("POST", "/api/provenance/backfill", body);
    },
  };
}
