import * as z from "zod";
import { RecountReply, RecountRequest } from "../admin/domain/recount.ts";
import { CANDIDATE_STATUSES } from "../common/domain/candidate.ts";
import {
  type DeclaredRoute,
  RESOURCE_SERVER,
  ROUTE_ACCESS,
  type RouteAccess,
  scopeName,
} from "../common/http/access.ts";
import {
  ListQuery as DatasetListQuery,
  DiffQuery,
  PinRequest,
  VersionQuery,
} from "../datasets/domain/dataset-version.ts";
import { ProfileInput } from "../eval/domain/eval-profile.ts";
import {
  CandidateMadeReply,
  EvalStatsReply,
  FeedbackReply,
  JudgeRunReply,
  JudgeRunsReply,
  LegacySessionRowReply,
  OverviewPageReply,
  SessionDetailReply,
} from "../eval/domain/eval-replies.ts";
import {
  CandidateFromMessageInput,
  FeedbackInput,
  LegacyOverviewQuery,
  OverviewQuery,
  SessionInput,
} from "../eval/domain/eval-session.ts";
import { StatsQuery } from "../eval/domain/eval-stats.ts";
import { JudgeRunRequest, RunsQuery } from "../eval/domain/judge-run.ts";
import { EvalSetUpload } from "../exports/domain/evalsets.ts";
import {
  ExportJobSummaryReply,
  ExportJobViewReply,
  ExportListReply,
} from "../exports/domain/export-replies.ts";
import { ExportListQuery, ExportRequest, ExportStatusQuery } from "../exports/domain/export-request.ts";
import { ImportRunRequest, ReviewConfigRequest } from "../import/domain/run-folders.ts";
import { RunQuarantineQuery } from "../import/domain/run-quarantine.ts";
import { IngestQuarantineQuery } from "../ingest/domain/quarantine-listing.ts";
import { BackfillRequest, ValidateQuery } from "../provenance/domain/provenance-requests.ts";
import { BulkBatch, BulkRequest } from "../review/domain/bulk.ts";
import {
  AdjudicationBody,
  AdjudicationQuery,
  AgreementQuery,
  ReviewPolicyRequest,
} from "../review/domain/double-review.ts";
import {
  AdjudicationPage,
  AgreementReply,
  ReviewerStatsReply,
  ReviewPolicyReply,
  SubmitReply,
} from "../review/domain/double-review-replies.ts";
import { NextRequest } from "../review/domain/lease.ts";
import { QueueQuery } from "../review/domain/queue.ts";
import { ReleaseRequest, SubmitRequest, UndoRequest } from "../review/domain/review.ts";
import { ReviewerStatsQuery } from "../review/domain/reviewer-numbers.ts";
import { FAILURE_REASONS, SKIP_REASONS, SuggestionJobRequest } from "../suggest/domain/job.ts";
import { CORRECTION_ORIGINS, Suggestion } from "../suggest/domain/suggestion.ts";

/**
 * The API's contract, one entry per declared route: the zod schemas its handler validates the
 * request with (the same objects, imported from the slices) and the shapes of its answers. The
 * OpenAPI document served at `GET /api/openapi.json` is generated from it, and a test checks that
 * answers of the real handler validate against it.
 */

/** Every error: a message, or FastAPI-style issues for a request that failed its schema. */
export const ErrorReply = z.object({
  detail: z.union([
    z.string(),
    z.array(z.object({ loc: z.array(z.union([z.string(), z.number()])), msg: z.string(), type: z.string() })),
  ]),
});

const Ok = z.object({ ok: z.literal(true) });
const counts = z.record(z.string(), z.number());
const nullableNumber = z.number().nullable();

const RunListing = z.object({
  run_id: z.string(),
  timestamp: z.string().nullable(),
  candidate_count: nullableNumber,
  already_imported: z.boolean(),
  import_state: z.string().nullable(),
  imported: nullableNumber,
  skipped: nullableNumber,
  quarantined: nullableNumber,
});

const ImportReply = z.object({ imported: z.number(), skipped: z.number() });
const ImportHandedOn = z.object({
  imported: z.number(),
  skipped: z.number(),
  import_state: z.literal("importing"),
  run_id: z.string(),
  lines_read: z.number(),
  watch: z.string(),
});

const CandidateView = z.looseObject({
  id: z.string(),
  status: z.enum(CANDIDATE_STATUSES),
  version: z.number(),
  corrected_response: z.string().nullable(),
  failure_category: z.string().nullable(),
  /** The suggested correction a suggestion job stored beside the candidate, when one did. */
  suggestion: Suggestion.optional(),
});

const QueuePage = z.object({
  items: z.array(CandidateView),
  total: nullableNumber,
  page: z.number(),
  per_page: z.number(),
  next_cursor: z.string().nullable(),
});

const Lease = z.object({ holder: z.string(), holder_name: z.string(), expires_at: z.string() });
const NextReply = z.union([
  z.object({ candidate: CandidateView, lease: Lease }),
  z.object({ candidate: z.null(), lease: z.null() }),
]);

const BulkJob = z.looseObject({
  id: z.string(),
  action: z.enum(["discard", "flag"]),
  target: z.string(),
  state: z.enum(["running", "done", "undoing", "undone"]),
  decided: z.number(),
  decided_over_policy: z.number().optional(),
  skipped: z.number(),
  undone: z.number(),
  undo_skipped: z.number(),
});

const HistoryEvent = z.looseObject({
  candidate_id: z.string(),
  action: z.string(),
  from: z.string(),
  to: z.string(),
  reviewer: z.string(),
  reviewer_name: z.string().nullish(),
  at: z.string(),
  version: z.number(),
  correction_origin: z.enum(CORRECTION_ORIGINS).optional(),
});

const SuggestionJobReply = z.looseObject({
  id: z.string(),
  state: z.enum(["running", "done"]),
  filters: z.record(z.string(), z.string()),
  limit: z.number(),
  replace: z.boolean(),
  model: z.string(),
  backend: z.string(),
  prompt_version: z.string(),
  total: z.number(),
  pending: z.number(),
  passed_over: z.number(),
  suggested: z.number(),
  failed: z.number(),
  failed_by_reason: z.partialRecord(z.enum(FAILURE_REASONS), z.number()),
  skipped: z.number(),
  skipped_by_reason: z.partialRecord(z.enum(SKIP_REASONS), z.number()),
  created_at: z.string(),
  created_by: z.string(),
  completed_at: z.string().nullable(),
});

const Stats = z.object({
  total: z.number(),
  by_status: counts,
  by_model: counts,
  by_task_type: counts,
  by_source: counts,
  export_ready: z.number(),
  awaiting_votes: z.number(),
  awaiting_adjudication: z.number(),
  suggestions: z.object({
    accepted: z.number(),
    edited: z.number(),
    written: z.number(),
    acceptance_rate: z.number().nullable(),
  }),
});

const Coverage = z.object({
  total: z.number(),
  valid: z.number(),
  missing: z.number(),
  coverage: z.number(),
});
const ProvenanceReport = z.looseObject({
  total: z.number(),
  valid: z.number(),
  approved: z.number(),
  excluded: z.number(),
  missing_provenance: z.number(),
  coverage: z.number(),
  by_source: z.record(z.string(), Coverage),
  by_model: z.record(z.string(), Coverage),
});

const SignedLink = z.object({
  url: z.string(),
  file_name: z.string(),
  expires_in: z.number(),
  expires_at: z.string(),
});
const QuarantineExcerpt = {
  reason: z.string(),
  detail: z.string(),
  raw_excerpt: z.string(),
  raw_chars: z.number(),
  raw_truncated: z.boolean(),
};
const RunQuarantinePage = z.object({
  run_id: z.string(),
  import_id: z.string().nullable(),
  state: z.string(),
  quarantined: nullableNumber,
  by_reason: counts.nullable(),
  reason: z.string().nullable(),
  items: z.array(z.object({ line: z.number(), ...QuarantineExcerpt })),
  next_cursor: z.string().nullable(),
  scanned_bytes: z.number(),
  file_bytes: z.number(),
  download: SignedLink.nullable(),
});
const IngestQuarantinePage = z.object({
  day: z.string().nullable(),
  days: z.array(z.string()),
  reason: z.string().nullable(),
  items: z.array(
    z.object({
      message_id: z.string(),
      ...QuarantineExcerpt,
      received_at: z.string().nullable(),
      quarantined_at: z.string().nullable(),
      raw_bytes: nullableNumber,
      download: SignedLink,
    }),
  ),
  examined: z.number(),
  next_cursor: z.string().nullable(),
  by_reason: counts.nullable(),
  counted: nullableNumber,
  counts_complete: z.boolean().nullable(),
});

const EvalSetReply = z.object({
  name: z.string(),
  version: z.string(),
  indexed: z
    .boolean()
    .describe(
      "whether this version has its index; reading never builds one (registration, /index and exports do)",
    ),
  items: nullableNumber.describe("null until indexed"),
  indexed_items: nullableNumber,
  bytes: z.number(),
  skipped_lines: nullableNumber,
  skipped: z.array(z.object({ where: z.string(), reason: z.string() })),
  files: z.array(z.object({ key: z.string(), bytes: z.number() })),
  ngram: z.number(),
  grams: nullableNumber,
  indexed_at: z.string().nullable(),
});
const DatasetVersionReply = z.looseObject({
  name: z.string(),
  version: z.number(),
  export_id: z.string(),
  format: z.string(),
  state: z.enum(["copying", "ready"]),
  pinned_at: z.string(),
  prefix: z.string(),
  files: z.looseObject({
    dataset: z.looseObject({ key: z.string(), bytes: z.number(), lines: z.number(), sha256: z.string() }),
    documents: z.looseObject({ prefix: z.string(), count: z.number() }).nullable(),
  }),
  manifest: z.looseObject({
    counts: z.looseObject({ exported: z.number(), lines: z.number(), quarantined: z.number() }),
  }),
});
const DatasetReply = z.looseObject({
  name: z.string(),
  last_version: z.number(),
  versions: z.array(DatasetVersionReply),
});
const DiffRecord = z.object({ record_id: z.string(), candidate_id: z.string() });

/** A JSON value whose shape this contract leaves to the capability's manual. */
const Documented = (manual: string) => z.unknown().describe(`See ${manual}`);

export interface RouteContract {
  readonly summary: string;
  readonly body?: z.ZodType;
  readonly query?: z.ZodType;
  /** Successful answers by status. */
  readonly responses: Readonly<Record<number, z.ZodType>>;
}

export const API_CONTRACT = {
  "GET /api/health": { summary: "Health check", responses: { 200: Ok } },
  "GET /api/openapi.json": {
    summary: "This document: the API's contract (OpenAPI 3.1)",
    responses: {
      200: z.looseObject({ openapi: z.literal("3.1.0"), paths: z.record(z.string(), z.unknown()) }),
    },
  },
  "POST /api/sft/ingest": {
    summary: "A product ingests one approved correction (per-source token or machine client token)",
    body: Documented("docs/ingest.md (CorrectionMessage)"),
    responses: { 200: z.object({ ok: z.literal(true), id: z.string(), warnings: z.array(z.string()) }) },
  },
  "GET /api/sft/runs": { summary: "Run folders and their imports", responses: { 200: z.array(RunListing) } },
  "POST /api/sft/import": {
    summary: "Import a run folder now (202 when it is handed on to finish in the background)",
    body: ImportRunRequest,
    responses: { 200: ImportReply, 202: ImportHandedOn },
  },
  "GET /api/sft/queue": {
    summary: "The review queue, oldest first",
    query: QueueQuery,
    responses: { 200: QueuePage },
  },
  "POST /api/sft/next": {
    summary: "Lease the next candidate nobody holds (the queue's filters; lease_seconds, 600 by default)",
    body: NextRequest,
    responses: { 200: NextReply },
  },
  "POST /api/sft/release": {
    summary: "Give a leased candidate back to the queue (a skip)",
    body: ReleaseRequest,
    responses: { 200: Ok },
  },
  "POST /api/sft/bulk": {
    summary:
      "Discard or flag every waiting candidate under a filter, as a job worked in batches (dry_run: count only)",
    body: BulkRequest,
    responses: {
      200: z.object({ dry_run: z.literal(true), matched: z.number(), matched_over_policy: z.number() }),
      201: BulkJob,
    },
  },
  "GET /api/sft/bulk/:id": { summary: "A bulk job and its progress", responses: { 200: BulkJob } },
  "POST /api/sft/bulk/:id/run": {
    summary: "Decide the bulk's next batch of candidates",
    body: BulkBatch,
    responses: { 200: BulkJob },
  },
  "POST /api/sft/bulk/:id/undo": {
    summary: "Take back the bulk's next batch of decisions (those unchanged since)",
    body: BulkBatch,
    responses: { 200: BulkJob },
  },
  "POST /api/sft/suggestions": {
    summary:
      "Start a suggestion job: the LLM suggests a corrected answer for each waiting candidate under the filters",
    body: SuggestionJobRequest,
    responses: { 202: SuggestionJobReply },
  },
  "GET /api/sft/suggestions/:id": {
    summary: "A suggestion job and its progress (suggested, failed by reason, skipped by reason)",
    responses: { 200: SuggestionJobReply },
  },
  "POST /api/sft/submit": {
    summary: "Decide a candidate (under a double-review policy: vote; `review` says where it stands)",
    body: SubmitRequest,
    responses: { 200: SubmitReply },
  },
  "GET /api/sft/review-policy": {
    summary: "The double-review policy: reviews required per source or task type",
    responses: { 200: ReviewPolicyReply },
  },
  "POST /api/sft/review-policy": {
    summary: "Replace the double-review policy",
    body: ReviewPolicyRequest,
    responses: { 200: ReviewPolicyReply },
  },
  "GET /api/sft/adjudication": {
    summary: "Candidates whose reviewers disagreed, oldest first, with their votes",
    query: AdjudicationQuery,
    responses: { 200: AdjudicationPage },
  },
  "POST /api/sft/adjudication/:id": {
    summary: "An admin's decision on a candidate in adjudication: it settles the candidate",
    body: AdjudicationBody,
    responses: { 200: SubmitReply },
  },
  "GET /api/sft/stats/agreement": {
    summary:
      "Agreement of double review (percent and Cohen's kappa, by action), per reviewer pair and overall",
    query: AgreementQuery,
    responses: { 200: AgreementReply },
  },
  "GET /api/sft/stats/reviewers": {
    summary:
      "Decisions per hour, median time per decision, undo rate and suggestion acceptance, per reviewer and overall",
    query: ReviewerStatsQuery,
    responses: { 200: ReviewerStatsReply },
  },
  "POST /api/sft/undo": { summary: "Take a decision back", body: UndoRequest, responses: { 200: Ok } },
  "GET /api/sft/stats": {
    summary: "Counts by status, model, task type and source",
    responses: { 200: Stats },
  },
  "GET /api/sft/config": {
    summary: "The runs prefix, and whether the caller may change it (can_change)",
    responses: { 200: z.looseObject({ bench_results_dir: z.string(), can_change: z.boolean() }) },
  },
  "POST /api/sft/config": {
    summary: "Change the runs prefix",
    body: ReviewConfigRequest,
    responses: { 200: z.looseObject({ bench_results_dir: z.string().optional() }) },
  },
  "GET /api/sft/candidates/:id": {
    summary: "A candidate and its history",
    responses: { 200: z.object({ candidate: CandidateView, history: z.array(HistoryEvent) }) },
  },
  "GET /api/sft/runs/:run_id/quarantine": {
    summary:
      "A run's quarantined lines, in line order: paged (the cursor is a byte offset into the file), by reason, with counts by reason and a signed link to the whole file",
    query: RunQuarantineQuery,
    responses: { 200: RunQuarantinePage },
  },
  "GET /api/sft/ingest/quarantine": {
    summary:
      "The corrections queue's refused messages of one day (the newest unless asked): paged, by reason, with counts by reason and a signed link to each",
    query: IngestQuarantineQuery,
    responses: { 200: IngestQuarantinePage },
  },
  "POST /api/exports": {
    summary: "Start an export job (Idempotency-Key honoured)",
    body: ExportRequest,
    responses: { 202: ExportJobSummaryReply, 200: ExportJobSummaryReply },
  },
  "GET /api/exports": {
    summary: "Recent export jobs",
    query: ExportListQuery,
    responses: { 200: ExportListReply },
  },
  "GET /api/exports/:id": {
    summary: "An export job: progress, manifest and signed download links",
    query: ExportStatusQuery,
    responses: { 200: ExportJobViewReply },
  },
  "GET /api/sft/export": {
    summary: "Avocet's SFT export: 303 to a signed URL",
    responses: { 303: z.null() },
  },
  "POST /api/evalsets/:name": {
    summary:
      "Register an eval set every export is checked against: a JSONL body (application/x-ndjson) or JSON {items}; replaces the set's items.jsonl",
    body: EvalSetUpload,
    responses: { 201: EvalSetReply },
  },
  "POST /api/evalsets/:name/index": {
    summary: "Index an eval set's current version (one uploaded straight to the bucket) and answer it",
    responses: { 200: EvalSetReply },
  },
  "GET /api/evalsets": {
    summary: "The registered eval sets with their item counts, sizes and versions",
    responses: { 200: z.object({ evalsets: z.array(EvalSetReply) }) },
  },
  "GET /api/evalsets/:name": { summary: "A registered eval set", responses: { 200: EvalSetReply } },
  "DELETE /api/evalsets/:name": {
    summary: "Remove an eval set and its indexes",
    responses: { 200: z.object({ name: z.string(), deleted: z.number() }) },
  },
  "POST /api/datasets": {
    summary: "Pin a finished export as the next version of a dataset (202 while still copying: post again)",
    body: PinRequest,
    responses: { 201: DatasetVersionReply, 200: DatasetVersionReply, 202: DatasetVersionReply },
  },
  "GET /api/datasets": {
    summary: "Datasets by name, each with its versions and their manifests",
    query: DatasetListQuery,
    responses: {
      200: z.object({
        datasets: z.array(DatasetReply),
        next_cursor: z.string().nullable().describe("pass as cursor for the next page; null on the last"),
      }),
    },
  },
  "GET /api/datasets/:name": {
    summary: "A dataset's versions with their manifests",
    responses: { 200: DatasetReply },
  },
  "GET /api/datasets/:name/versions/:version": {
    summary: "A dataset version with signed download links to its files",
    query: VersionQuery,
    responses: {
      200: DatasetVersionReply.extend({
        downloads: z.object({ dataset: SignedLink }).catchall(SignedLink).nullable(),
      }),
    },
  },
  "GET /api/datasets/:name/diff": {
    summary: "Record ids added and removed between two versions, one hash partition per page",
    query: DiffQuery,
    responses: {
      200: z.looseObject({
        added: z.array(DiffRecord),
        removed: z.array(DiffRecord),
        unchanged: z.number(),
        formats: z.object({ from: z.string(), to: z.string() }),
        partition: z.number(),
        partitions: z.number(),
        next_cursor: z.string().nullable(),
      }),
    },
  },
  "GET /api/provenance/report": { summary: "Provenance coverage", responses: { 200: ProvenanceReport } },
  "GET /api/provenance/validate": {
    summary: "Records whose provenance is incomplete",
    query: ValidateQuery,
    responses: {
      200: z.looseObject({
        items: z.array(z.looseObject({ id: z.string() })),
        next_cursor: z.string().nullable(),
      }),
    },
  },
  "POST /api/provenance/backfill": {
    summary: "Fill in missing provenance (dry_run: what it would fill, writing nothing)",
    body: BackfillRequest,
    responses: { 200: z.looseObject({ matched: z.number(), changed: z.number() }) },
  },
  "POST /api/admin/recount": {
    summary: "Recount the stats counters (and repair them on request)",
    body: RecountRequest,
    responses: { 200: RecountReply },
  },
  "POST /api/eval/sessions": {
    summary: "Record or replace a chat session",
    body: SessionInput,
    responses: { 201: z.looseObject({}), 200: z.looseObject({}) },
  },
  "GET /api/eval/sessions": {
    summary: "Sessions overview, the session eval API's bare list of rows",
    query: LegacyOverviewQuery,
    responses: { 200: z.array(LegacySessionRowReply) },
  },
  "GET /api/v2/eval/sessions": {
    summary: "Sessions overview, Flywheel's richer shape",
    query: OverviewQuery,
    responses: { 200: OverviewPageReply },
  },
  "GET /api/eval/sessions/:id": { summary: "A session", responses: { 200: SessionDetailReply } },
  "POST /api/eval/sessions/:id/candidates": {
    summary: "Make a session's answer a review candidate",
    body: CandidateFromMessageInput,
    responses: { 201: CandidateMadeReply, 200: CandidateMadeReply },
  },
  "POST /api/eval/feedback": {
    summary: "Like or dislike a message",
    body: FeedbackInput,
    responses: { 201: z.looseObject({ rater: z.string() }), 200: z.looseObject({ rater: z.string() }) },
  },
  "GET /api/eval/feedback/:session_id": {
    summary: "A session's feedback",
    responses: { 200: z.looseObject({ session_id: z.string(), feedback: z.array(FeedbackReply) }) },
  },
  "POST /api/eval/run": {
    summary: "Start a judge run",
    body: JudgeRunRequest,
    responses: { 202: JudgeRunReply },
  },
  "GET /api/eval/run/:id": { summary: "A judge run", responses: { 200: JudgeRunReply } },
  "GET /api/eval/runs": {
    summary: "Recent judge runs",
    query: RunsQuery,
    responses: { 200: JudgeRunsReply },
  },
  "GET /api/eval/stats": {
    summary: "Eval stats",
    query: StatsQuery,
    responses: { 200: EvalStatsReply },
  },
  "POST /api/eval/profiles": {
    summary: "Record or replace a chat product's profile, which the judge reads",
    body: ProfileInput,
    responses: {
      201: z.looseObject({ id: z.string(), description: z.string() }),
      200: z.looseObject({ id: z.string(), description: z.string() }),
    },
  },
  "GET /api/eval/profiles": {
    summary: "The profile registry",
    responses: { 200: z.looseObject({ profiles: z.array(z.looseObject({ id: z.string() })) }) },
  },
} as const satisfies Record<DeclaredRoute, RouteContract>;

/** `/api/sft/candidates/:id` → `/api/sft/candidates/{id}`. */
export const openApiPath = (pattern: string) => pattern.replace(/:([A-Za-z_]+)/g, "{$1}");

const jsonSchema = (schema: z.ZodType, io: "input" | "output") =>
  z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;

/** The OpenAPI 3.1 document of the API, generated from `API_CONTRACT` and `ROUTE_ACCESS`. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [route, contract] of Object.entries(API_CONTRACT) as [DeclaredRoute, RouteContract][]) {
    const [method, pattern] = route.split(" ") as [string, string];
    const access: RouteAccess = ROUTE_ACCESS[route];
    const path = openApiPath(pattern);
    const parameters = [
      ...[...pattern.matchAll(/:([A-Za-z_]+)/g)].map((match) => ({
        name: match[1],
        in: "path",
        required: true,
        schema: { type: "string" },
      })),
      ...queryParameters(contract.query),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(contract.responses)) {
      responses[status] =
        status === "303"
          ? { description: "See other: the signed URL is the Location header" }
          : { description: "OK", content: { "application/json": { schema: jsonSchema(schema, "output") } } };
    }
    const error = { content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
    responses["4XX"] = { description: "The request's error, with its reason", ...error };
    responses["5XX"] = { description: "A passing failure", ...error };
    paths[path] = {
      ...paths[path],
      [method.toLowerCase()]: {
        operationId: `${method.toLowerCase()} ${pattern}`,
        summary: contract.summary,
        tags: [pattern.split("/")[2] ?? "api"],
        ...(access === "open" ? { security: [] } : { security: [{ cognito: [scopeName(access)] }] }),
        ...(parameters.length > 0 ? { parameters } : {}),
        ...(contract.body
          ? {
              requestBody: {
                required: true,
                content: { "application/json": { schema: jsonSchema(contract.body, "input") } },
              },
            }
          : {}),
        responses,
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Flywheel API", version },
    paths,
    components: {
      schemas: { Error: jsonSchema(ErrorReply, "output") },
      securitySchemes: {
        cognito: {
          type: "oauth2",
          description: `Cognito access tokens carrying ${RESOURCE_SERVER}/<scope> (see docs/access.md); locally the dev tokens of .flywheel/local.json`,
          flows: { clientCredentials: { tokenUrl: "/oauth2/token", scopes: scopeDescriptions() } },
        },
      },
    },
  };
}

function scopeDescriptions(): Record<string, string> {
  const scopes = new Set(Object.values(ROUTE_ACCESS).filter((access) => access !== "open"));
  return Object.fromEntries([...scopes].map((scope) => [scopeName(scope as never), `The ${scope} scope`]));
}

function queryParameters(query: z.ZodType | undefined) {
  if (!query) return [];
  const schema = jsonSchema(query, "input") as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    required: schema.required?.includes(name) ?? false,
    schema: property,
  }));
}
