import { createDatasetsApi } from "./datasets-api.ts";
import { createEvalApi } from "./eval-api.ts";
import { createQualityApi } from "./quality-api.ts";
import { createReviewersApi } from "./reviewers-api.ts";
import type {
  Candidate,
  CandidateDetail,
  ConfigReply,
  ExportJobSummary,
  ExportJobView,
  ExportRequestBody,
  FailureCategory,
  NextReply,
  QueueFilters,
  QueuePage,
  ReviewAction,
  ReviewStats,
  RunListing,
} from "./types.ts";

/** A reply other than 2xx, with the API's `{"detail": …}` turned into one readable sentence. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The request never got an answer (offline, DNS, CORS, aborted). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super(`The server could not be reached (${cause instanceof Error ? cause.message : String(cause)})`);
    this.name = "NetworkError";
  }
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `{"detail": "…"}`, `{"detail": [{loc, msg}]}` (422) or API Gateway's `{"message": "…"}`. */
export function detailMessage(body: unknown, status: number): string {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail)) {
    const parts = detail.map((issue: { loc?: unknown; msg?: unknown }) => {
      const loc = Array.isArray(issue?.loc) ? issue.loc.filter((part) => part !== "body").join(".") : "";
      return loc ? `${loc}: ${String(issue?.msg ?? "invalid")}` : String(issue?.msg ?? "invalid");
    });
    if (parts.length) return parts.join("; ");
  }
  const message = (body as { message?: unknown } | null)?.message;
  if (typeof message === "string" && message) return message;
  return `HTTP ${status}`;
}

export interface ApiOptions {
  /** Where `/api` lives; empty for the same origin. */
  readonly baseUrl: string;
  /** The bearer token for the next request, or `null` when signed out. */
  readonly token: () => Promise<string | null>;
  /** Called on a 401, after which the request fails with the `ApiError`. */
  readonly onUnauthorized?: () => void;
  readonly fetch?: typeof fetch;
}

export interface SubmitInput {
  readonly id: string;
  readonly action: ReviewAction;
  readonly corrected_response?: string;
  readonly failure_category: FailureCategory | null;
  /** The suggestion a correction started from (the server tells accepted from edited by the texts). */
  readonly suggestion_id?: string;
}

/** A created export job and what its status reads; field names as the exports API sends them. */
export interface ExportJob {
  readonly id: string;
  readonly status?: string;
  readonly error?: string;
  readonly reason?: string;
  readonly [field: string]: unknown;
}

export type ReviewApi = ReturnType<typeof createApi>;

export function createApi(options: ApiOptions) {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));

  async function request<T>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json", ...extraHeaders };
    const token = await options.token();
    if (token) headers.authorization = `Bearer ${token}`;
    // A Blob goes as it is, with its own type (an eval set's JSONL); anything else as JSON.
    const raw = typeof Blob !== "undefined" && body instanceof Blob;
    if (body !== undefined)
      headers["content-type"] = raw ? body.type || "application/octet-stream" : "application/json";
    let response: Response;
    try {
      response = await doFetch(`${options.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      throw new NetworkError(error);
    }
    const text = await response.text().catch(() => "");
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { detail: text.slice(0, 200) };
      }
    }
    if (!response.ok) {
      if (response.status === 401) options.onUnauthorized?.();
      throw new ApiError(response.status, detailMessage(parsed, response.status));
    }
    return parsed as T;
  }

  return {
    /** The eval API: sessions, judge runs and stats (`eval-api.ts`). */
    eval: createEvalApi(request),
    /** Quarantine and provenance: what was kept out on the way in, and what records can be traced to. */
    quality: createQualityApi(request),
    /** Double review and reviewer numbers: the policy, adjudication, agreement, per-reviewer figures. */
    reviewers: createReviewersApi(request),
    /** Dataset versions and eval sets: pin, list, diff, download; register, index, remove. */
    datasets: createDatasetsApi(request),
    queue(query: { cursor?: string | null; perPage?: number; filters?: QueueFilters }, signal?: AbortSignal) {
      const params = new URLSearchParams({ per_page: String(query.perPage ?? 20) });
      if (query.cursor) params.set("cursor", query.cursor);
      for (const [name, value] of Object.entries(query.filters ?? {})) if (value) params.set(name, value);
      return request<QueuePage>("GET", `/api/sft/queue?${params}`, undefined, signal);
    },
    /**
     * Leases the next candidate nobody holds to this reviewer, passing over the ones it skipped,
     * within the queue's filters (model, task type, run, source) when given.
     */
    next(skip: readonly string[] = [], filters: QueueFilters = {}) {
      const body: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(filters)) if (value) body[name] = value;
      if (skip.length > 0) body.skip = skip;
      return request<NextReply>("POST", "/api/sft/next", body);
    },
    /** Gives a leased candidate back to the queue. */
    release(id: string) {
      return request<{ ok: true }>("POST", "/api/sft/release", { id });
    },
    /** `review` says where a double review stands when the decision was a vote. */
    submit(input: SubmitInput) {
      return request<{ ok: true; review?: { state: "decided" | "awaiting_votes" | "adjudication" } }>(
        "POST",
        "/api/sft/submit",
        input,
      );
    },
    undo(id: string) {
      return request<{ ok: true }>("POST", "/api/sft/undo", { id });
    },
    stats() {
      return request<ReviewStats>("GET", "/api/sft/stats");
    },
    runs() {
      return request<RunListing[]>("GET", "/api/sft/runs");
    },
    importRun(runId: string) {
      return request<{ imported: number; skipped: number }>("POST", "/api/sft/import", { run_id: runId });
    },
    candidate(id: string) {
      return request<CandidateDetail>("GET", `/api/sft/candidates/${encodeURIComponent(id)}`);
    },
    createExport(format: string) {
      return request<ExportJob>("POST", "/api/exports", { format });
    },
    exportJob(id: string) {
      return request<ExportJob>("GET", `/api/exports/${encodeURIComponent(id)}`);
    },
    /** `POST /api/exports` with every filter and option the form sets. */
    startExport(body: ExportRequestBody, idempotencyKey?: string) {
      return request<ExportJobSummary>("POST", "/api/exports", body, undefined, {
        ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}),
      });
    },
    /** The latest export jobs, newest first. */
    exportJobs(limit = 20) {
      return request<{ exports: ExportJobSummary[] }>("GET", `/api/exports?limit=${limit}`);
    },
    /** A job with its request, manifest and, once it succeeded, its signed downloads. */
    exportView(id: string) {
      return request<ExportJobView>("GET", `/api/exports/${encodeURIComponent(id)}`);
    },
    /** The runs prefix, and whether this caller may change it. */
    config() {
      return request<ConfigReply>("GET", "/api/sft/config");
    },
    setConfig(benchResultsDir: string) {
      return request<ConfigReply>("POST", "/api/sft/config", { bench_results_dir: benchResultsDir });
    },
    /**
     * Avocet's `GET /api/sft/export`: a 303 to a signed URL, followed by the browser. The bytes
     * come back here, so the caller saves them itself.
     */
    async legacyExport(): Promise<Blob> {
      const token = await options.token();
      let response: Response;
      try {
        response = await doFetch(`${options.baseUrl}/api/sft/export`, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
      } catch (error) {
        throw new NetworkError(error);
      }
      if (!response.ok) {
        const text = await response.text().catch(() => "");
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(text);
        } catch {}
        throw new ApiError(response.status, detailMessage(parsed, response.status));
      }
      return response.blob();
    },
  };
}

export type { Candidate };
