import { ConflictError, NotFoundError } from "../../lib/common/domain/errors.ts";
import type { ExportJob, ExportProgress } from "../../lib/exports/domain/export-job.ts";
import type { ExportManifest } from "../../lib/exports/domain/export-manifest.ts";
import type { ExportMessage } from "../../lib/exports/domain/export-request.ts";
import type {
  CandidateSelection,
  ExportCandidateSource,
  ExportJobStore,
  ExportObjects,
  ExportQueue,
  ObjectWriter,
} from "../../lib/exports/ports.ts";
import type { ExportApiDeps } from "../../lib/exports/usecases/exports.ts";
import type { CandidateView } from "../../lib/review/ports.ts";

type Stored = Readonly<Record<string, unknown>> & { readonly id: string; readonly status: string };

/** Candidates in memory, read in the status index's order: answer time, then id. */
export class MemoryCandidates implements ExportCandidateSource {
  readonly selections: CandidateSelection[] = [];

  constructor(
    private readonly candidates: Stored[],
    private readonly batchSize = 3,
  ) {}

  async *stream(selection: CandidateSelection): AsyncGenerator<CandidateView[]> {
    this.selections.push(selection);
    const matches = this.candidates
      .filter((c) => selection.statuses.includes(c.status as never))
      .map((c) => ({ c, key: sortKeyOf(c) }))
      .filter(
        ({ key }) =>
          (!selection.range.from || key >= selection.range.from) &&
          (!selection.range.to || key < selection.range.to),
      )
      .filter(({ c }) => {
        const provenance = (c.provenance ?? {}) as Record<string, unknown>;
        const { model, task_type, run_id, source } = selection.filters;
        return (
          (model === undefined || provenance.model === model) &&
          (task_type === undefined || c.task_type === task_type) &&
          (run_id === undefined || provenance.source_run_id === run_id) &&
          (source === undefined || provenance.source === source)
        );
      })
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map(({ c }) => structuredClone(c) as CandidateView);
    for (let i = 0; i < matches.length; i += this.batchSize) yield matches.slice(i, i + this.batchSize);
  }
}

/** The status index's sort key: the answer's time (or when it was captured), then the id. */
function sortKeyOf(candidate: Stored): string {
  const provenance = (candidate.provenance ?? {}) as { captured_at?: string };
  const time = typeof candidate.timestamp === "string" ? candidate.timestamp : (provenance.captured_at ?? "");
  return `${time ? new Date(time).toISOString() : ""}#${candidate.id}`;
}

/** Objects in memory; a streamed object appears when its writer closes. */
export class MemoryObjects implements ExportObjects {
  readonly objects = new Map<string, { body: string; contentType: string }>();
  readonly aborted: string[] = [];
  /** Makes writes to keys ending with this fail, to test the failure path. */
  failWritesTo: string | null = null;

  openWriter(key: string, contentType: string): ObjectWriter {
    const chunks: string[] = [];
    return {
      write: async (chunk) => {
        if (this.failWritesTo && key.endsWith(this.failWritesTo)) throw new Error(`S3 refused ${key}`);
        chunks.push(chunk);
      },
      close: async () => {
        this.objects.set(key, { body: chunks.join(""), contentType });
      },
      abort: async () => {
        this.aborted.push(key);
      },
    };
  }

  async put(key: string, body: string, contentType: string): Promise<void> {
    this.objects.set(key, { body, contentType });
  }

  async signedDownload(
    key: string,
    download: { fileName: string; contentType: string; expiresInSeconds: number },
  ) {
    const query = new URLSearchParams({
      "X-Amz-Expires": String(download.expiresInSeconds),
      "response-content-type": download.contentType,
      "response-content-disposition": `attachment; filename="${download.fileName}"`,
    });
    return `https://bucket.example.test/${key}?${query}`;
  }

  body(key: string): string {
    const object = this.objects.get(key);
    if (!object) throw new Error(`no object ${key}`);
    return object.body;
  }
}

/** Export jobs in memory, with the same state rules as the table. */
export class MemoryExportJobs implements ExportJobStore {
  readonly jobs = new Map<string, ExportJob>();
  readonly progressWrites: ExportProgress[] = [];

  async create(job: ExportJob) {
    if (this.jobs.has(job.id)) return "exists" as const;
    this.jobs.set(job.id, structuredClone(job));
    return "created" as const;
  }

  async get(id: string) {
    const job = this.jobs.get(id);
    return job ? structuredClone(job) : null;
  }

  async list(limit: number) {
    return [...this.jobs.values()]
      .sort((a, b) => (`${b.created_at}#${b.id}` < `${a.created_at}#${a.id}` ? -1 : 1))
      .slice(0, limit);
  }

  async start(id: string, at: string) {
    const job = this.jobs.get(id);
    if (!job) throw new NotFoundError(`Export ${id} not found`);
    if (job.status !== "queued" && job.status !== "running") return null;
    const started: ExportJob = { ...job, status: "running", started_at: at, attempts: job.attempts + 1 };
    this.jobs.set(id, started);
    return structuredClone(started);
  }

  async progress(id: string, progress: ExportProgress) {
    this.progressWrites.push(progress);
    this.update(id, (job) => ({ ...job, progress }));
  }

  async succeed(id: string, manifest: ExportManifest) {
    const { considered, exported, quarantined } = manifest.counts;
    if (
      !this.update(id, (job) => ({
        ...job,
        status: "succeeded",
        finished_at: manifest.finished_at,
        manifest: structuredClone(manifest),
        progress: { considered, exported, quarantined },
        error: null,
      }))
    ) {
      throw new ConflictError(`Export ${id} finished before this run did`);
    }
  }

  async fail(id: string, error: string, at: string, final: boolean) {
    this.update(id, (job) =>
      final ? { ...job, status: "failed", finished_at: at, error } : { ...job, error },
    );
  }

  private update(id: string, change: (job: ExportJob) => ExportJob): boolean {
    const job = this.jobs.get(id);
    if (!job || (job.status !== "queued" && job.status !== "running")) return false;
    this.jobs.set(id, change(job));
    return true;
  }
}

export class MemoryExportQueue implements ExportQueue {
  readonly sent: ExportMessage[] = [];
  failWith: Error | null = null;

  async send(message: ExportMessage) {
    if (this.failWith) throw this.failWith;
    this.sent.push(message);
  }
}

/** Export deps over in-memory fakes, with a clock that moves one second per reading. */
export function memoryExportDeps(candidates: Stored[], overrides: Partial<ExportApiDeps> = {}) {
  let tick = Date.UTC(2026, 4, 1, 12, 0, 0);
  let ids = 0;
  const jobs = new MemoryExportJobs();
  const objects = new MemoryObjects();
  const queue = new MemoryExportQueue();
  const source = new MemoryCandidates(candidates);
  const deps: ExportApiDeps = {
    jobs,
    candidates: source,
    objects,
    queue,
    codeVersion: "0.1.0+abcdef123456",
    approvedCount: async () => candidates.filter((c) => c.status === "approved").length,
    statusCounts: async () => {
      const counts: Record<string, number> = {};
      for (const { status } of candidates) counts[status] = (counts[status] ?? 0) + 1;
      return counts;
    },
    urlExpirySeconds: 900,
    maxUrlExpirySeconds: 3600,
    syncMaxRecords: 1000,
    now: () => {
      tick += 1000;
      return new Date(tick);
    },
    newId: () => `export-${String(++ids).padStart(3, "0")}`,
    ...overrides,
  };
  return { deps, jobs, objects, queue, source };
}
