import { ConflictError, NotFoundError, ValidationError } from "../../common/domain/errors.ts";
import { checkExpiry } from "../../common/domain/link-expiry.ts";
import { exportPrefix } from "../../common/resources.ts";
import {
  type CopyStep,
  type DatasetVersion,
  DIFF_PARTITION_IDS,
  type DiffRecord,
  decodeListCursor,
  diffPartitions,
  encodeListCursor,
  type PinRequest,
  partitionOf,
  planVersion,
  recordIdOfLine,
  type VersionFiles,
  versionFiles,
  versionPrefix,
} from "../domain/dataset-version.ts";
import type { DatasetObjects, DatasetStore, PinnedExports } from "../ports.ts";

export interface DatasetDeps {
  readonly datasets: DatasetStore;
  readonly objects: DatasetObjects;
  readonly exports: PinnedExports;
  readonly urlExpirySeconds: number;
  readonly maxUrlExpirySeconds: number;
  readonly now?: () => Date;
  /** Documents copied at once. */
  readonly copyConcurrency?: number;
  /** Record ids one diff page holds in memory at most (about). */
  readonly diffPartitionIds?: number;
}

const clockOf = (deps: { now?: () => Date }) => deps.now ?? (() => new Date());
const NDJSON = "application/x-ndjson";

export interface PinOutcome {
  /** `created`: a new version; `existing`: the export was pinned under this name before. */
  readonly outcome: "created" | "existing";
  readonly version: DatasetVersion;
}

/**
 * Pins a finished export as the next version of a dataset: records the version (`copying`),
 * copies every file of the export server-side to `datasets/<name>/v<n>/`, then marks it `ready`.
 * Pinning the same export under the same name again answers the version it has; one whose copy
 * was cut short (the request ran out of time) carries on from what is already there. With a
 * deadline, a pin stops copying in time and answers its version still `copying`.
 */
export async function pinDataset(
  deps: DatasetDeps,
  request: PinRequest,
  requester: string,
  limits: { readonly deadline?: number | undefined } = {},
): Promise<PinOutcome> {
  const now = clockOf(deps);
  const { name, export_id: exportId } = request;
  const pinned = await deps.datasets.pinnedVersion(name, exportId);
  if (pinned !== null) {
    const existing = await deps.datasets.get(name, pinned);
    if (!existing) throw new Error(`dataset ${name} has a pin of ${exportId} but no version ${pinned}`);
    return { outcome: "existing", version: await finishCopy(deps, existing, limits) };
  }

  const job = await deps.exports.get(exportId);
  if (!job) throw new NotFoundError(`Export ${exportId} not found`);
  if (job.status !== "succeeded" || !job.manifest) {
    throw new ConflictError(`Export ${exportId} is ${job.status}: only a succeeded export can be pinned`);
  }
  if (job.manifest.dry_run) {
    throw new ConflictError(`Export ${exportId} was a dry run: it wrote no files to pin`);
  }
  const at = now().toISOString();
  const number = await deps.datasets.nextVersion(name, at);
  const prefix = versionPrefix(name, number);
  const files = versionFiles(planVersion(job.manifest, exportPrefix(exportId), prefix));
  const version: DatasetVersion = {
    name,
    version: number,
    export_id: exportId,
    format: job.format,
    state: "copying",
    pinned_by: requester,
    pinned_at: at,
    ready_at: null,
    prefix,
    files,
    manifest: job.manifest,
  };
  const stored = await deps.datasets.create(version);
  if (!stored.created) {
    // Pinned under this name by a request running at the same time: its version, not a second.
    const other = await deps.datasets.get(name, stored.version);
    if (!other) throw new Error(`dataset ${name} has a pin of ${exportId} but no version ${stored.version}`);
    return { outcome: "existing", version: await finishCopy(deps, other, limits) };
  }
  return { outcome: "created", version: await finishCopy(deps, version, limits) };
}

/** Copies what a `copying` version still lacks and marks it `ready`; a ready version as it is. */
async function finishCopy(
  deps: DatasetDeps,
  version: DatasetVersion,
  limits: { readonly deadline?: number | undefined },
): Promise<DatasetVersion> {
  if (version.state === "ready") return version;
  const plan = planVersion(version.manifest, exportPrefix(version.export_id), version.prefix);
  const parts = [plan.main, ...plan.others];
  const outOfTime = () => limits.deadline !== undefined && Date.now() >= limits.deadline;
  try {
    // The export's own manifest.json last: a version's manifest is there only once all else is.
    const steps = [...plan.main.steps.slice(0, -1), ...plan.others.flatMap((other) => other.steps)];
    for (const step of steps) {
      if (outOfTime()) return version;
      await deps.objects.copy(step);
    }
    for (const part of parts) {
      if (!part.documentsFrom || !part.files.documents) continue;
      const cursor = version.copied_through ?? undefined;
      const through = await copyPrefix(
        deps,
        part.documentsFrom,
        part.files.documents.prefix,
        outOfTime,
        cursor?.startsWith(part.documentsFrom) ? cursor : undefined,
      );
      if (through !== null) {
        // Out of time: the next pin lists on from the last document copied, not from the start.
        await deps.datasets.saveProgress(version.name, version.version, through);
        return { ...version, copied_through: through };
      }
    }
    if (outOfTime()) return version;
    await deps.objects.copy(plan.main.steps.at(-1) as CopyStep);
    const ready = versionFiles(plan);
    const at = clockOf(deps)().toISOString();
    await deps.datasets.markReady(version.name, version.version, ready, at);
    return { ...version, state: "ready", ready_at: at, files: ready };
  } catch (error) {
    if (error instanceof NotFoundError) {
      throw new ConflictError(
        `Export ${version.export_id}'s files are gone (exports expire after their retention): ${error.message}`,
      );
    }
    throw error;
  }
}

/**
 * Copies the objects under `from` (after `startAfter`, in key order) to `to`, a bounded number at
 * once: `null` when all are copied, else the last key copied when time ran out.
 */
async function copyPrefix(
  deps: DatasetDeps,
  from: string,
  to: string,
  outOfTime: () => boolean,
  startAfter: string | undefined,
): Promise<string | null> {
  const concurrency = deps.copyConcurrency ?? 16;
  let last = startAfter ?? null;
  for await (const page of deps.objects.list(from, startAfter)) {
    for (let i = 0; i < page.length; i += concurrency) {
      if (outOfTime()) return last ?? "";
      const slice = page.slice(i, i + concurrency);
      await Promise.all(
        slice.map((object) =>
          deps.objects.copy({
            from: object.key,
            to: `${to}${object.key.slice(from.length)}`,
            bytes: object.bytes,
          }),
        ),
      );
      last = slice.at(-1)?.key ?? last;
    }
  }
  return null;
}

/** A version as the API shows it. */
export function versionView(version: DatasetVersion) {
  return {
    name: version.name,
    version: version.version,
    export_id: version.export_id,
    format: version.format,
    state: version.state,
    pinned_by: version.pinned_by,
    pinned_at: version.pinned_at,
    ready_at: version.ready_at,
    prefix: version.prefix,
    files: version.files,
    manifest: version.manifest,
  };
}

/**
 * `GET /api/datasets`: a page of datasets by name, each with its versions; `next_cursor` names
 * where the next page starts (`null` on the last). One more than `limit` is read to tell.
 */
export async function listDatasets(
  deps: Pick<DatasetDeps, "datasets">,
  query: { readonly limit: number; readonly cursor?: string | undefined },
) {
  let after: string | undefined;
  if (query.cursor !== undefined) {
    const name = decodeListCursor(query.cursor);
    if (name === null) {
      throw new ValidationError([
        { loc: ["query", "cursor"], msg: "cursor must be what next_cursor said", type: "value_error" },
      ]);
    }
    after = name;
  }
  const read = await deps.datasets.list(query.limit + 1, after);
  const datasets = read.slice(0, query.limit);
  const last = datasets.at(-1);
  const nextCursor = read.length > query.limit && last ? encodeListCursor(last.name) : null;
  const latest = await Promise.all(
    datasets.map(async (dataset) => {
      const versions = await deps.datasets.versions(dataset.name);
      return { ...dataset, versions: versions.map(versionView) };
    }),
  );
  return { datasets: latest, next_cursor: nextCursor };
}

export async function datasetVersions(deps: Pick<DatasetDeps, "datasets">, name: string) {
  const dataset = await deps.datasets.dataset(name);
  if (!dataset) throw new NotFoundError(`Dataset ${name} not found`);
  const versions = await deps.datasets.versions(name);
  return { ...dataset, versions: versions.map(versionView) };
}

/** A version with signed links to each of its files (once it is ready). */
export async function datasetVersion(deps: DatasetDeps, name: string, number: number, expiresIn?: number) {
  const version = await deps.datasets.get(name, number);
  if (!version) throw new NotFoundError(`Dataset ${name} has no version ${number}`);
  const seconds = checkExpiry(expiresIn ?? deps.urlExpirySeconds, deps.maxUrlExpirySeconds);
  if (version.state !== "ready") return { ...versionView(version), downloads: null };
  const base = `${name}-v${number}`;
  const expiresAt = new Date(clockOf(deps)().getTime() + seconds * 1000).toISOString();
  const sign = async (key: string, fileName: string, contentType = NDJSON) => ({
    url: await deps.objects.signedDownload(key, { fileName, contentType, expiresInSeconds: seconds }),
    file_name: fileName,
    expires_in: seconds,
    expires_at: expiresAt,
  });
  const signFiles = async (files: Omit<VersionFiles, "formats">, base: string) => {
    const [dataset, quarantine, records, manifest, validation] = await Promise.all([
      sign(files.dataset.key, `${base}.jsonl`),
      sign(files.quarantine.key, `${base}.quarantine.jsonl`),
      sign(files.records.key, `${base}.records.jsonl`),
      sign(files.manifest.key, `${base}.manifest.json`, "application/json"),
      files.validation ? sign(files.validation.key, `${base}.validation.jsonl`) : Promise.resolve(undefined),
    ]);
    return { dataset, quarantine, records, manifest, ...(validation ? { validation } : {}) };
  };
  const others = Object.entries(version.files.formats ?? {});
  const [downloads, ...formatDownloads] = await Promise.all([
    signFiles(version.files, base),
    ...others.map(([format, files]) => signFiles(files, `${base}.${format}`)),
  ]);
  return {
    ...versionView(version),
    downloads,
    // A job of several formats: the other formats' files, by format.
    ...(others.length > 0
      ? { format_downloads: Object.fromEntries(others.map(([format], i) => [format, formatDownloads[i]])) }
      : {}),
  };
}

/**
 * The record ids in version `to` and not in `from` (added) and the reverse (removed), from their
 * record indexes. Each page is one hash partition of the ids: both indexes are streamed once and
 * only that partition's ids of `from` are held, so memory stays bounded whatever their size.
 */
export async function diffVersions(
  deps: DatasetDeps,
  name: string,
  query: { readonly from: number; readonly to: number; readonly cursor: number },
) {
  const [from, to] = await Promise.all([
    deps.datasets.get(name, query.from),
    deps.datasets.get(name, query.to),
  ]);
  if (!from) throw new NotFoundError(`Dataset ${name} has no version ${query.from}`);
  if (!to) throw new NotFoundError(`Dataset ${name} has no version ${query.to}`);
  for (const version of [from, to]) {
    if (version.state !== "ready") {
      throw new ConflictError(`Version ${version.version} of ${name} is still being copied: pin it again`);
    }
  }
  const partitions = diffPartitions(
    Math.max(from.files.records.lines, to.files.records.lines),
    deps.diffPartitionIds ?? DIFF_PARTITION_IDS,
  );
  const partition = query.cursor;
  if (partition >= partitions) {
    throw new ValidationError([
      { loc: ["query", "cursor"], msg: `cursor must be below ${partitions}`, type: "less_than" },
    ]);
  }
  const before = new Map<string, string>();
  for await (const record of recordsIn(deps, from.files.records.key, partition, partitions)) {
    before.set(record.record_id, record.candidate_id);
  }
  const added: DiffRecord[] = [];
  let unchanged = 0;
  for await (const record of recordsIn(deps, to.files.records.key, partition, partitions)) {
    if (before.delete(record.record_id)) unchanged += 1;
    else added.push(record);
  }
  const removed = [...before].map(([record_id, candidate_id]) => ({ record_id, candidate_id }));
  const byId = (a: DiffRecord, b: DiffRecord) =>
    a.record_id < b.record_id ? -1 : a.record_id > b.record_id ? 1 : 0;
  return {
    name,
    from: query.from,
    to: query.to,
    formats: { from: from.format, to: to.format },
    partition,
    partitions,
    added: added.sort(byId),
    removed: removed.sort(byId),
    unchanged,
    next_cursor: partition + 1 < partitions ? String(partition + 1) : null,
  };
}

/** The records of one hash partition of a record index; only their lines are parsed whole. */
async function* recordsIn(
  deps: DatasetDeps,
  key: string,
  partition: number,
  partitions: number,
): AsyncIterable<DiffRecord> {
  for await (const line of deps.objects.lines(key)) {
    if (line.trim() === "") continue;
    const quick = recordIdOfLine(line);
    if (quick !== null && partitionOf(quick, partitions) !== partition) continue;
    const entry = JSON.parse(line) as { record_id: string; candidate_id: string };
    if (partitionOf(entry.record_id, partitions) !== partition) continue;
    yield { record_id: entry.record_id, candidate_id: entry.candidate_id };
  }
}
