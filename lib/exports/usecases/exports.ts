import { createHash, randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { CANDIDATE_STATUSES } from "../../common/domain/candidate.ts";
import {
  ConflictError,
  NotConfiguredError,
  NotFoundError,
  TimeLimitError,
  TooLargeForRequestError,
} from "../../common/domain/errors.ts";
import { checkExpiry } from "../../common/domain/link-expiry.ts";
import {
  BUCKET_PREFIXES,
  EXPORT_FILES,
  EXPORT_RETENTION_DAYS,
  exportPrefix,
} from "../../common/resources.ts";
import { DEFAULT_NGRAM, EvalIndex } from "../domain/decontamination.ts";
import { ExportCannotGoOnError } from "../domain/export-continuation.ts";
import { ExportFirewall, type ProvenanceCheck, type Split } from "../domain/export-firewall.ts";
import { type KbDocument, kbDocument } from "../domain/export-formats.ts";
import {
  type ExportJob,
  exportJobSummary,
  exportJobView,
  newExportJob,
  type SignedDownload,
} from "../domain/export-job.ts";
import {
  buildManifest,
  type ExportManifest,
  ExportTally,
  type ExportWarning,
  type FileReceipt,
} from "../domain/export-manifest.ts";
import { type ExportFilters, ExportRequest, utcStamp } from "../domain/export-request.ts";
import { StateWriter } from "../domain/export-state.ts";
import { KTO_CHECKED_BATCH_SIZE, KtoOrder, type OrderedLine } from "../domain/kto-order.ts";
import { SameTaskPairing } from "../domain/same-task-pairs.ts";
import type {
  CandidateSelection,
  EvalIndexSource,
  EvalSetSource,
  ExportCandidateSource,
  ExportJobStore,
  ExportObjects,
  ExportPartStore,
  ExportQueue,
  ObjectWriter,
} from "../ports.ts";
import {
  type EvalSetPins,
  type ExportContinuationDeps,
  type ExportHandedOn,
  type ExportResume,
  type ExportSuperseded,
  type FilesMemory,
  type FormatsMemory,
  isSkipPosition,
  saveCheckpoint,
  sendContinuation,
} from "./export-checkpoint.ts";
import { buildJobStep, checkExtraFormats } from "./export-formats-job.ts";
import { type FileMemory, ResumableFile } from "./resumable-file.ts";

export const NDJSON = "application/x-ndjson";

export interface ExportBuildDeps {
  readonly jobs: ExportJobStore;
  readonly candidates: ExportCandidateSource;
  readonly objects: ExportObjects;
  /** Stamped into every manifest. */
  readonly codeVersion: string;
  /** The registered eval sets every export is checked against; none when absent. */
  readonly evalSets?: EvalSetSource;
  /** The registered eval sets' stored n-gram indexes, for an n-gram length (`evalsets/`). */
  readonly evalIndexes?: EvalIndexSource;
  /** Candidates by status, from the stats counters: the manifest counts the statuses not read. */
  readonly statusCounts?: () => Promise<Readonly<Record<string, number>>>;
  /** The provenance validator (`validateProvenance` unless a test swaps it). */
  readonly checkProvenance?: ProvenanceCheck;
  readonly now?: () => Date;
  /** How often a running job's progress is written. */
  readonly progressIntervalMs?: number;
  /**
   * Where an export that runs short of time saves a checkpoint and hands the rest on (the export
   * function's); without it such an export stops and fails with `TimeLimitError`.
   */
  readonly continuation?: ExportContinuationDeps | undefined;
}

export interface ExportApiDeps extends ExportBuildDeps {
  /** Absent on a deployment without the exports queue: creating a job then answers 503. */
  readonly queue?: ExportQueue | undefined;
  /** How many candidates are `approved`, from the stats counters. */
  readonly approvedCount: () => Promise<number>;
  /** Signed URLs last this long unless the request asks otherwise (15 minutes by default). */
  readonly urlExpirySeconds: number;
  readonly maxUrlExpirySeconds: number;
  /** `GET /api/sft/export` builds in the request only up to this many approved candidates. */
  readonly syncMaxRecords: number;
  readonly newId?: () => string;
}

const clockOf = (deps: { now?: () => Date }) => deps.now ?? (() => new Date());

/** Starts an export job: stores it `queued` and puts it on the exports queue. */
export async function createExport(
  deps: ExportApiDeps,
  request: ExportRequest,
  requester: string,
  idempotencyKey?: string,
) {
  if (!deps.queue) throw new NotConfiguredError("Exports are not configured on this deployment");
  checkExtraFormats(request);
  const now = clockOf(deps);
  const job = newExportJob({
    id: idempotencyKey ? idempotentExportId(requester, idempotencyKey) : (deps.newId ?? randomUUID)(),
    request,
    origin: "api",
    requestedBy: requester,
    at: now(),
  });
  if ((await deps.jobs.create(job)) === "exists") {
    // A retry of a request already made: the job it made, never a second one.
    const existing = await deps.jobs.get(job.id);
    if (existing && sameJson(existing.request, request)) return exportJobSummary(existing);
    throw new ConflictError(
      `Idempotency-Key ${idempotencyKey} was used before for another export (${job.id})`,
    );
  }
  try {
    await deps.queue.send({ export_id: job.id });
  } catch (error) {
    await deps.jobs.fail(job.id, `could not be queued: ${messageOf(error)}`, now().toISOString(), true);
    throw error;
  }
  return exportJobSummary(job);
}

/** A job's status, counts and manifest, and once it succeeded, signed links to its files. */
export async function exportStatus(deps: ExportApiDeps, id: string, expiresIn?: number) {
  const job = await deps.jobs.get(id);
  if (!job) throw new NotFoundError(`Export ${id} not found`);
  const seconds = checkExpiry(expiresIn ?? deps.urlExpirySeconds, deps.maxUrlExpirySeconds);
  // A dry run wrote nothing to download.
  if (job.status !== "succeeded" || job.request.options.dry_run) return exportJobView(job, null);
  const quarantineName = job.file_name.replace(/\.jsonl$/, "").concat(".quarantine.jsonl");
  const validationName = job.file_name.replace(/\.jsonl$/, "").concat(".validation.jsonl");
  const recordsName = job.file_name.replace(/\.jsonl$/, "").concat(".records.jsonl");
  const [dataset, quarantine, records, validation] = await Promise.all([
    signed(deps, `${exportPrefix(job.id)}${EXPORT_FILES.dataset}`, job.file_name, seconds),
    signed(deps, `${exportPrefix(job.id)}${EXPORT_FILES.quarantine}`, quarantineName, seconds),
    signed(deps, `${exportPrefix(job.id)}${EXPORT_FILES.records}`, recordsName, seconds),
    job.manifest?.files.validation
      ? signed(deps, job.manifest.files.validation.key, validationName, seconds)
      : Promise.resolve(undefined),
  ]);
  const view = exportJobView(job, { dataset, quarantine, records, ...(validation ? { validation } : {}) });
  // With `formats`: each other format's dataset and quarantine, by format.
  const parts = job.manifest?.formats?.slice(1) ?? [];
  if (parts.length === 0) return view;
  const stem = job.file_name.replace(/\.jsonl$/, "");
  const signedParts = await Promise.all(
    parts.map(async ({ format, files }) => [
      format,
      {
        download: await signed(deps, files.dataset.key, `${stem}.${format}.jsonl`, seconds),
        quarantine_download: await signed(
          deps,
          files.quarantine.key,
          `${stem}.${format}.quarantine.jsonl`,
          seconds,
        ),
      },
    ]),
  );
  return { ...view, format_downloads: Object.fromEntries(signedParts) };
}

export async function listExports(deps: Pick<ExportApiDeps, "jobs">, limit: number) {
  return { exports: (await deps.jobs.list(limit)).map(exportJobSummary) };
}

/**
 * Avocet's `GET /api/sft/export`: builds an SFT export of the approved candidates now, in this
 * request, through the same firewall and files as a job (and recorded as one), and returns a
 * signed URL of it. Only up to `syncMaxRecords` approved candidates, counted from the stats
 * counters before anything is read, so the build stays within the API's time limit; beyond
 * that the answer is 413 and an export job (`POST /api/exports`) is the way.
 */
export async function avocetSftExport(
  deps: ExportApiDeps,
  requester: string,
  limits: RunLimits = {},
): Promise<string> {
  const approved = await deps.approvedCount();
  if (approved > deps.syncMaxRecords) {
    throw new TooLargeForRequestError(
      `${approved} approved candidates are more than GET /api/sft/export builds within a request ` +
        `(${deps.syncMaxRecords}); create an export job instead: POST /api/exports {"format": "openai-sft"}`,
    );
  }
  const now = clockOf(deps);
  const at = now();
  const request = ExportRequest.parse({
    format: "openai-sft",
    filters: { statuses: ["approved"] },
    options: { file_name: `sft_export_${utcStamp(at)}.jsonl` },
  });
  const job = newExportJob({
    id: (deps.newId ?? randomUUID)(),
    request,
    origin: "avocet",
    requestedBy: requester,
    at,
  });
  await deps.jobs.create(job);
  try {
    await runExportJob(deps, job.id, limits);
  } catch (error) {
    await deps.jobs.fail(job.id, messageOf(error), now().toISOString(), true).catch(() => undefined);
    throw error;
  }
  const { url } = await signed(
    deps,
    `${exportPrefix(job.id)}${EXPORT_FILES.dataset}`,
    job.file_name,
    deps.urlExpirySeconds,
  );
  return url;
}

export interface RunLimits {
  /**
   * Epoch milliseconds by which the run must have stopped: past it, the export aborts its
   * uploads and fails with `TimeLimitError`, rather than being cut off with its job left running.
   */
  readonly deadline?: number | undefined;
  /**
   * The same, read again after every batch: an invocation whose time is cut short (`npm start`'s
   * second Ctrl-C) stops at its next checkpoint. Takes the place of `deadline` when given.
   */
  readonly deadlineNow?: (() => number) | undefined;
}

/**
 * Runs one export job to the end: `null` when it had already finished (or, with checkpoints,
 * when it handed the rest on to a later invocation). Any failure is thrown for the caller to
 * record (and, from the queue, to retry).
 */
export async function runExportJob(
  deps: ExportBuildDeps,
  exportId: string,
  limits: RunLimits = {},
): Promise<ExportManifest | null> {
  const startedAt = clockOf(deps)().toISOString();
  const job = await deps.jobs.start(exportId, startedAt);
  if (!job) return null;
  const outcome = await buildJobStep(deps, job, startedAt, limits, null);
  if (outcome.status !== "finished") return null;
  await deps.jobs.succeed(job.id, outcome.manifest);
  return outcome.manifest;
}

/**
 * Whose export a build is, when it is not simply its job's: a job's other formats are each built
 * as an export of their own files (`exports/<id>/formats/<format>/`), checkpointed on the job.
 */
export interface StepContext {
  /** The job: its checkpoint, its queue messages, its progress. */
  readonly jobId: string;
  /** The checkpoint this invocation went on from, which the next one it saves follows. */
  readonly previous: ExportResume | null;
  /** The job's formats before this one, saved in its checkpoint. */
  readonly formats?: FormatsMemory;
  /** The eval sets, loaded once for every format of the job (`null`: none); loaded here when absent. */
  readonly evalIndex?: EvalIndex | null;
}

/** How one invocation's share of an export ended. */
export type ExportStep =
  | { readonly status: "finished"; readonly manifest: ExportManifest }
  | ExportHandedOn
  | ExportSuperseded;

/**
 * Streams one export: reads the selection in index order, screens every candidate through the
 * firewall, and writes the dataset, the quarantine and the record index as multipart uploads
 * while it reads (RAG documents and their sidecars as separate objects), then the manifest with
 * the sha256 of each file. Memory holds one batch and the duplicate fingerprints, not the dataset.
 */
export async function buildExport(
  deps: ExportBuildDeps,
  job: ExportJob,
  startedAt: string,
  limits: RunLimits = {},
): Promise<ExportManifest> {
  const outcome = await buildExportStep({ ...deps, continuation: undefined }, job, startedAt, limits, null);
  if (outcome.status !== "finished") throw new Error(`the export ${outcome.status}`);
  return outcome.manifest;
}

/**
 * One invocation's share of an export: `buildExport`, going on from `resume` when given. With
 * `deps.continuation`, an invocation whose deadline comes before the read ends saves everything
 * it would need to go on — the read position, the tally, the firewall's fingerprints, each file's
 * upload id, parts, unuploaded tail and running sha256, the KTO blocks waiting — as a checkpoint
 * and hands the rest on; the files the last invocation completes are byte for byte those of an
 * export that ran in one go.
 */
export async function buildExportStep(
  deps: ExportBuildDeps,
  job: ExportJob,
  startedAt: string,
  limits: RunLimits,
  resume: ExportResume | null,
  context: StepContext = { jobId: job.id, previous: resume },
): Promise<ExportStep> {
  const { request } = job;
  const { filters } = request;
  const now = clockOf(deps);
  const evalIndex =
    context.evalIndex !== undefined
      ? (context.evalIndex ?? undefined)
      : await jobEvalIndex(deps, request, resume);
  const notRead = resume ? resume.header.not_read : await notReadByStatus(deps, filters.statuses);
  const firewall = new ExportFirewall(
    { format: request.format, options: request.options, filters, evalIndex },
    deps.checkProvenance,
  );
  if (resume) firewall.restore(resume.header.firewall, resume.state);
  // Same-task pairs: candidates wait, grouped by task, in a bounded buffer (same-task-pairs.ts).
  const pairing =
    request.options.pairing === "same_task" ? new SameTaskPairing(request.format, request.options) : null;
  if (resume && pairing) pairing.restore(resume.state);
  const writePaired = async () => {
    for (const screened of pairing?.finish() ?? []) {
      tally.count(screened.status, screened.verdict);
      await files.add(screened.verdict);
    }
  };
  const tally = resume ? ExportTally.restore(resume.header.tally) : new ExportTally();
  const dryRun = request.options.dry_run === true;
  const { continuation } = deps;
  const files = new ExportFiles(
    dryRun ? DISCARD : deps.objects,
    job,
    continuation ? resumableOpener(continuation, dryRun, resume) : undefined,
  );
  if (resume) files.restore(resume.header.files);
  const interval = deps.progressIntervalMs ?? 2_000;
  let lastProgress = now().getTime();
  // Where the read stands. A source whose batches say nothing is read from the start again and
  // the candidates already screened are skipped.
  let position = resume?.header.position ?? null;
  const skipped = isSkipPosition(position) ? position.skip : 0;
  let streamed = 0;
  // Once a checkpoint names this invocation's uploads, a failure leaves them for the retry.
  let checkpointed = false;

  try {
    const stream = deps.candidates.stream(
      selectionOf(filters),
      position && !isSkipPosition(position) ? { after: position } : {},
    );
    read: for await (const batch of stream) {
      for (const candidate of batch) {
        streamed += 1;
        if (streamed <= skipped) continue;
        if (filters.limit !== undefined && tally.exported >= filters.limit) break read;
        const verdict = firewall.screen(candidate);
        const ready = pairing
          ? pairing.add(candidate.status, verdict, candidate.task_id)
          : [{ status: candidate.status, verdict }];
        for (const screened of ready) {
          tally.count(screened.status, screened.verdict);
          await files.add(screened.verdict);
        }
      }
      position = batch.position ?? { skip: streamed };
      await files.flush();
      const deadline = limits.deadlineNow ? limits.deadlineNow() : limits.deadline;
      if (deadline !== undefined && Date.now() >= deadline) {
        if (!continuation) {
          throw new TimeLimitError(
            `the export stopped after ${tally.snapshot().considered} candidates: the time this run may take is nearly up`,
          );
        }
        const state = new StateWriter();
        pairing?.save(state);
        const { considered, exported, quarantined } = tally.snapshot();
        const saved = await saveCheckpoint(continuation, {
          header: {
            export_id: context.jobId,
            started_at: startedAt,
            invocations: (context.previous?.header.invocations ?? 0) + 1,
            position,
            tally: tally.save(),
            firewall: firewall.save(state),
            files: await files.save(state),
            not_read: notRead,
            eval_sets: evalSetPins(evalIndex, request.options.eval_ngram),
            ...(context.formats ? { formats: context.formats } : {}),
          },
          state,
          previous: context.previous,
          at: now().toISOString(),
        });
        if (saved.status === "superseded") {
          await files.abort();
          return saved;
        }
        checkpointed = true;
        await sendContinuation(continuation, context.jobId, saved.seq);
        const counts = { considered, exported, quarantined };
        await deps.jobs.progress(context.jobId, counts);
        return { status: "handed_on", seq: saved.seq, counts };
      }
      if (now().getTime() - lastProgress >= interval) {
        lastProgress = now().getTime();
        const { considered, exported, quarantined } = tally.snapshot();
        await deps.jobs.progress(context.jobId, { considered, exported, quarantined });
      }
    }
    await writePaired();
    const finishedAt = now();
    const manifest = buildManifest(
      {
        export_id: job.id,
        format: request.format,
        request,
        filters,
        code_version: deps.codeVersion,
        requested_by: job.requested_by,
        requested_at: job.created_at,
        started_at: startedAt,
        finished_at: finishedAt.toISOString(),
        counts: { ...tally.snapshot(), ...notRead },
        files: await files.close(),
        ...(evalIndex ? { decontamination: { ngram: evalIndex.n, sets: evalIndex.registered } } : {}),
      },
      // A dry run wrote no documents that could expire.
      files.warnings(finishedAt).filter((warning) => !(dryRun && warning.code === "documents_expire")),
    );
    if (!dryRun) {
      await deps.objects.put(files.manifestKey, `${JSON.stringify(manifest, null, 2)}\n`, "application/json");
    }
    return { status: "finished", manifest };
  } catch (error) {
    if (!checkpointed) await files.abort();
    throw error;
  }
}

/** With checkpoints, every file is a resumable multipart upload (a dry run's uploads go nowhere). */
function resumableOpener(
  continuation: ExportContinuationDeps,
  dryRun: boolean,
  resume: ExportResume | null,
): FileOpener {
  const store = dryRun ? DISCARD_PARTS : continuation.parts;
  return (name, key) => {
    const saved = resume?.header.files.files[name];
    return saved && resume
      ? ResumableFile.restore(store, NDJSON, saved, resume.state, `file.${name}`, continuation.partBytes)
      : new ResumableFile(store, key, NDJSON, continuation.partBytes);
  };
}

/** A dry run's uploads: parts taken and dropped. */
const DISCARD_PARTS: ExportPartStore = {
  startUpload: async () => "dry-run",
  uploadPart: async (_key, _id, number) => `"dry-run-${number}"`,
  completeUpload: async () => {},
  abortUpload: async () => {},
  putBytes: async () => {},
  getBytes: () => Promise.reject(new Error("a dry run stores nothing")),
  remove: async () => {},
};

/** One file of an export, as `ExportFiles` writes it. */
interface LineFile {
  add(line: string): void;
  flush(): Promise<void>;
  close(): Promise<FileReceipt>;
  abort(): Promise<void>;
  /** Resumable files only: what a later invocation needs to go on. */
  save?(state: StateWriter, section: string): Promise<FileMemory>;
}

type FileOpener = (name: string, key: string) => LineFile;

/** The files of one export, written while it reads: dataset, quarantine, record index, documents. */
class ExportFiles {
  private readonly prefix: string;
  private readonly dataset: LineFile;
  private readonly quarantine: LineFile;
  private readonly records: LineFile;
  private readonly documents: DocumentWriter | null;
  /** With `options.validation_fraction`: the candidates on the validation side. */
  private readonly validation: LineFile | null;
  /** `trl-kto` only, one per file: lays its lines out so TRL's KL pairs never share a prompt. */
  private kto: Record<Split, KtoOrder> | null;
  private linesWritten: Record<Split, number> = { train: 0, validation: 0 };

  constructor(
    objects: ExportObjects,
    job: ExportJob,
    open: FileOpener = (_name, key) => new ReceiptWriter(objects, key, NDJSON),
  ) {
    this.prefix = exportPrefix(job.id);
    this.dataset = open("dataset", `${this.prefix}${EXPORT_FILES.dataset}`);
    this.quarantine = open("quarantine", `${this.prefix}${EXPORT_FILES.quarantine}`);
    this.records = open("records", `${this.prefix}${EXPORT_FILES.records}`);
    this.documents =
      job.request.format === "rag" && job.request.options.bedrock_kb_sidecars
        ? new DocumentWriter(objects, documentsPrefix(job))
        : null;
    this.validation =
      job.request.options.validation_fraction !== undefined
        ? open("validation", `${this.prefix}${VALIDATION_FILE}`)
        : null;
    this.kto =
      job.request.format === "trl-kto" ? { train: new KtoOrder(), validation: new KtoOrder() } : null;
  }

  get manifestKey(): string {
    return `${this.prefix}${EXPORT_FILES.manifest}`;
  }

  private get writers(): LineFile[] {
    return [this.dataset, this.quarantine, this.records, ...(this.validation ? [this.validation] : [])];
  }

  /** A refused candidate goes to the quarantine; a passed one to the dataset and record index. */
  async add(verdict: ReturnType<ExportFirewall["screen"]>): Promise<void> {
    if (!verdict.passed) {
      this.quarantine.add(JSON.stringify(verdict.entry));
      return;
    }
    const { candidateId, prompt } = verdict.example;
    const { split } = verdict;
    this.write(
      split,
      this.kto
        ? this.kto[split].push({ candidateId, prompt, lines: verdict.lines })
        : verdict.lines.map((line) => ({ ...line, candidateId })),
    );
    const first = verdict.lines[0];
    if (this.documents && first) await this.documents.add(kbDocument(verdict.example, first.recordId));
  }

  /**
   * Lines of the dataset (or the validation file) and their record index entries, numbered in the
   * order they are written in their file; a validation line's entry says `file: "validation"`.
   */
  private write(split: Split, lines: readonly OrderedLine[]): void {
    const file = split === "validation" ? this.validation : this.dataset;
    if (!file) throw new Error("a validation line without a validation file");
    for (const { recordId, line, candidateId } of lines) {
      this.linesWritten[split] += 1;
      file.add(JSON.stringify(line));
      const entry = { line: this.linesWritten[split], record_id: recordId, candidate_id: candidateId };
      this.records.add(JSON.stringify(split === "validation" ? { ...entry, file: "validation" } : entry));
    }
  }

  async flush(): Promise<void> {
    await Promise.all(this.writers.map((writer) => writer.flush()));
  }

  /**
   * Waits for every upload in flight and writes what a later invocation needs to go on: each
   * file's tail as a section of `state`, the rest returned for the checkpoint's header.
   */
  async save(state: StateWriter): Promise<FilesMemory> {
    const named: [string, LineFile | null][] = [
      ["dataset", this.dataset],
      ["quarantine", this.quarantine],
      ["records", this.records],
      ["validation", this.validation],
    ];
    const files: Record<string, FileMemory> = {};
    for (const [name, file] of named) {
      if (!file) continue;
      if (!file.save) throw new Error("only resumable files can be saved");
      files[name] = await file.save(state, `file.${name}`);
    }
    const documents = this.documents ? await this.documents.close() : 0;
    return {
      files,
      kto: this.kto ? { train: this.kto.train.save(), validation: this.kto.validation.save() } : null,
      linesWritten: { ...this.linesWritten },
      documents,
    };
  }

  /** Goes on from saved files (each file itself was opened from its saved state). */
  restore(memory: FilesMemory): void {
    if (this.kto && memory.kto) {
      this.kto = {
        train: KtoOrder.restore(memory.kto.train),
        validation: KtoOrder.restore(memory.kto.validation),
      };
    }
    this.linesWritten = { ...memory.linesWritten };
    this.documents?.countFrom(memory.documents);
  }

  /** What only the files know: KTO pairs no layout kept apart, when the documents expire. */
  warnings(finishedAt: Date): ExportWarning[] {
    const warnings: ExportWarning[] = [];
    if (this.documents) {
      const expiresAt = new Date(finishedAt.getTime() + EXPORT_RETENTION_DAYS * 86_400_000).toISOString();
      warnings.push({
        code: "documents_expire",
        expires_at: expiresAt,
        message:
          `the documents under ${this.documents.prefix} are deleted ${EXPORT_RETENTION_DAYS} days after they were written (about ${expiresAt}); ` +
          "a Knowledge Base synced after that removes every one of them from its index — copy the prefix somewhere that does not expire and point the data source there",
      });
    }
    const shared = this.kto ? this.kto.train.collisions + this.kto.validation.collisions : 0;
    if (shared === 0) return warnings;
    return [
      ...warnings,
      {
        code: "kto_kl_shared_prompt",
        trainer: "TRL KTOTrainer",
        actual: shared,
        message: `${shared} of the KL pairs TRL would make (batch sizes 2 to ${KTO_CHECKED_BATCH_SIZE}) share a prompt: too few distinct prompts to keep them apart`,
      },
    ];
  }

  async close() {
    if (this.kto) {
      this.write("train", this.kto.train.finish());
      if (this.validation) this.write("validation", this.kto.validation.finish());
    }
    const [dataset, quarantine, records, validation] = (await Promise.all(
      this.writers.map((writer) => writer.close()),
    )) as [FileReceipt, FileReceipt, FileReceipt, FileReceipt | undefined];
    const documentCount = this.documents ? await this.documents.close() : 0;
    return {
      dataset,
      quarantine,
      records,
      documents: this.documents ? { prefix: this.documents.prefix, count: documentCount } : null,
      ...(validation ? { validation } : {}),
    };
  }

  async abort(): Promise<void> {
    await Promise.all(this.writers.map((writer) => writer.abort()));
    await this.documents?.close().catch(() => undefined);
  }
}

/**
 * Where a RAG export's Knowledge Bases documents go: beside its files by default, or under
 * `exports/kb/<id>/`, a prefix that holds nothing but documents and their sidecars.
 */
export function documentsPrefix(job: Pick<ExportJob, "id" | "request">): string {
  return job.request.options.bedrock_kb_prefix === "separate"
    ? `${BUCKET_PREFIXES.exports}${KB_PREFIX}${job.id}/`
    : `${exportPrefix(job.id)}${EXPORT_FILES.documents}`;
}

/**
 * What a job is checked against: at its start the sets registered now, and from a checkpoint
 * exactly the set versions its first invocation read — never a set registered or changed since,
 * so every record of one export is checked against the same sets. (Sets read item by item,
 * `evalSets`, have no versions: they are read as they are.)
 */
export async function jobEvalIndex(
  deps: ExportBuildDeps,
  request: ExportRequest,
  resume: ExportResume | null,
): Promise<EvalIndex | undefined> {
  const pins = resume?.header.eval_sets;
  const ngram = request.options.eval_ngram ?? DEFAULT_NGRAM;
  if (!pins || !deps.evalIndexes) return evalIndexOf(deps, ngram);
  if (pins.sets.length === 0) return undefined;
  const versions = pins.sets.map(({ name, version }) => {
    if (version === undefined) {
      // Retrying cannot give it one: the job fails at once.
      throw new ExportCannotGoOnError(`the checkpoint pins eval set ${name} without a version`);
    }
    return { name, version };
  });
  return deps.evalIndexes.pinned(pins.ngram, versions);
}

/** The eval set versions a checkpoint pins: those the export has been checked against. */
const evalSetPins = (index: EvalIndex | undefined, ngram = DEFAULT_NGRAM): EvalSetPins =>
  index ? { ngram: index.n, sets: index.registered } : { ngram, sets: [] };

/**
 * The registered eval sets' n-grams, once per export: their stored indexes, or every item read
 * through `evalSets`; none (and no check) when nothing is registered.
 */
async function evalIndexOf(deps: ExportBuildDeps, ngram = DEFAULT_NGRAM): Promise<EvalIndex | undefined> {
  if (deps.evalIndexes) return (await deps.evalIndexes.load(ngram)) ?? undefined;
  if (!deps.evalSets) return undefined;
  const index = new EvalIndex(ngram);
  for await (const batch of deps.evalSets.items()) for (const item of batch) index.add(item);
  return index;
}

/** The statuses an export does not read, counted from the stats counters (nothing without them). */
async function notReadByStatus(
  deps: ExportBuildDeps,
  read: readonly string[],
): Promise<{ not_read_by_status?: Record<string, number> }> {
  const unread = CANDIDATE_STATUSES.filter((status) => !read.includes(status));
  if (!deps.statusCounts || unread.length === 0) return {};
  const counters = await deps.statusCounts();
  return { not_read_by_status: Object.fromEntries(unread.map((status) => [status, counters[status] ?? 0])) };
}

/** A dry run's objects: every write taken and dropped, nothing stored, nothing to sign. */
const DISCARD: ExportObjects = {
  openWriter: () => ({ write: async () => {}, close: async () => {}, abort: async () => {} }),
  put: async () => {},
  signedDownload: () => Promise.reject(new Error("a dry run has nothing to download")),
};

/** `exports/<id>/validation.jsonl`: the validation side of a split export. */
export const VALIDATION_FILE = "validation.jsonl";

/** Under `exports/` (the prefix the export may write, and whose lifecycle rule applies). */
export const KB_PREFIX = "kb/";

function selectionOf(filters: ExportFilters): CandidateSelection {
  const attributes: Record<string, string> = {};
  for (const name of ["model", "task_type", "run_id", "source"] as const) {
    const value = filters[name];
    if (value !== undefined) attributes[name] = value;
  }
  return { statuses: filters.statuses, filters: attributes, range: { from: filters.from, to: filters.to } };
}

async function signed(
  deps: Pick<ExportApiDeps, "objects" | "now">,
  key: string,
  fileName: string,
  expiresInSeconds: number,
): Promise<SignedDownload> {
  const url = await deps.objects.signedDownload(key, { fileName, contentType: NDJSON, expiresInSeconds });
  const expiresAt = new Date(clockOf(deps)().getTime() + expiresInSeconds * 1000).toISOString();
  return { url, file_name: fileName, expires_in: expiresInSeconds, expires_at: expiresAt };
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 1_000);
}

/** Lines gathered per batch and written as one chunk, hashed and counted as they go. */
class ReceiptWriter {
  private readonly hash = createHash("sha256");
  private readonly writer: ObjectWriter;
  private pending: string[] = [];
  private bytes = 0;
  private lines = 0;

  constructor(
    objects: ExportObjects,
    private readonly key: string,
    private readonly contentType: string,
  ) {
    this.writer = objects.openWriter(key, contentType);
  }

  add(line: string): void {
    this.pending.push(line);
    this.lines += 1;
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = `${this.pending.join("\n")}\n`;
    this.pending = [];
    this.hash.update(chunk);
    this.bytes += Buffer.byteLength(chunk);
    await this.writer.write(chunk);
  }

  async close(): Promise<FileReceipt> {
    await this.flush();
    await this.writer.close();
    return {
      key: this.key,
      content_type: this.contentType,
      bytes: this.bytes,
      lines: this.lines,
      sha256: this.hash.digest("hex"),
    };
  }

  abort(): Promise<void> {
    return this.writer.abort().catch(() => undefined);
  }
}

/** RAG documents and their sidecars, a bounded number of puts in flight. */
class DocumentWriter {
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | null = null;
  private count = 0;

  constructor(
    private readonly objects: ExportObjects,
    readonly prefix: string,
    private readonly concurrency = 16,
  ) {}

  /** Goes on counting from the documents an earlier invocation wrote. */
  countFrom(count: number): void {
    this.count = count;
  }

  async add(document: KbDocument): Promise<void> {
    if (this.failure) throw this.failure.error;
    while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
    const key = `${this.prefix}${document.name}`;
    const task: Promise<void> = Promise.all([
      this.objects.put(key, document.text, "text/plain; charset=utf-8"),
      this.objects.put(`${key}.metadata.json`, JSON.stringify(document.metadata), "application/json"),
    ]).then(
      () => {
        this.count += 1;
      },
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    const tracked = task.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Waits for every put; the number of documents written. */
  async close(): Promise<number> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure.error;
    return this.count;
  }
}

/** The job id of a keyed request: the same requester and key always name the same job. */
export function idempotentExportId(requester: string, key: string): string {
  const hex = createHash("sha256")
    .update(JSON.stringify([requester, key]))
    .digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Equal as JSON: what a stored request reads back as, whatever the key order or unset fields. */
const sameJson = (a: unknown, b: unknown) =>
  isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
