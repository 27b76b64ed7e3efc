import type { Reply } from "./contract-types.ts";
import type { ApiRequest } from "./quality-api.ts";

/** Dataset versions (pinned exports) and the eval sets every export is checked against. */
export type DatasetList = Reply<"GET /api/datasets">;
export type Dataset = DatasetList["datasets"][number];
export type DatasetVersion = Dataset["versions"][number];
export type DatasetVersionView = Reply<"GET /api/datasets/:name/versions/:version">;
export type DatasetDiff = Reply<"GET /api/datasets/:name/diff">;
export type EvalSet = Reply<"GET /api/evalsets/:name">;

/** One of a version's files as its manifest lists it. */
export interface VersionFile {
  readonly key: string;
  readonly bytes: number;
  readonly lines?: number;
  readonly sha256?: string;
}

/** The files a version holds, in the order a page lists them, with what each one is. */
export const VERSION_FILES = [
  { id: "dataset", label: "Dataset", what: "the training file" },
  { id: "quarantine", label: "Quarantine", what: "every record kept out, with its reason" },
  { id: "records", label: "Record index", what: "dataset line → record id → candidate" },
  { id: "validation", label: "Validation", what: "the validation split" },
  { id: "manifest", label: "Manifest", what: "the request, the counts and each other file's sha256" },
] as const;

/** The files of a version that it has, each with its receipt (key, bytes, lines, sha256). */
export function versionFiles(
  version: DatasetVersion,
): { id: string; label: string; what: string; file: VersionFile }[] {
  const files = version.files as unknown as Record<string, VersionFile | null | undefined>;
  return VERSION_FILES.flatMap((entry) => {
    const file = files[entry.id];
    return file && typeof file.key === "string" ? [{ ...entry, file }] : [];
  });
}

/** The manifest's counts a list shows, `null` where the manifest has none. */
export function versionCounts(version: DatasetVersion): {
  considered: number | null;
  exported: number | null;
  lines: number | null;
  quarantined: number | null;
} {
  const counts = version.manifest.counts as Record<string, unknown>;
  const n = (value: unknown) => (typeof value === "number" ? value : null);
  return {
    considered: n(counts.considered),
    exported: n(counts.exported),
    lines: n(counts.lines),
    quarantined: n(counts.quarantined),
  };
}

/** Whether scopes let their holder delete an eval set; `null` scopes (not known here) let the API decide. */
export function mayDeleteEvalSets(scopes: readonly string[] | null | undefined): boolean {
  return scopes == null || scopes.includes("admin");
}

const path = (name: string) => encodeURIComponent(name);

export function createDatasetsApi(request: ApiRequest) {
  return {
    list(query: { limit?: number; cursor?: string | null } = {}) {
      const params = new URLSearchParams({ limit: String(query.limit ?? 50) });
      if (query.cursor) params.set("cursor", query.cursor);
      return request<DatasetList>("GET", `/api/datasets?${params}`);
    },
    dataset(name: string) {
      return request<Dataset>("GET", `/api/datasets/${path(name)}`);
    },
    version(name: string, version: number) {
      return request<DatasetVersionView>("GET", `/api/datasets/${path(name)}/versions/${version}`);
    },
    /** Pins a finished export as the next version of `name` (or answers the version it already is). */
    pin(name: string, exportId: string) {
      return request<DatasetVersion>("POST", "/api/datasets", { name, export_id: exportId });
    },
    diff(name: string, from: number, to: number, cursor?: string | null) {
      const params = new URLSearchParams({ from: String(from), to: String(to) });
      if (cursor) params.set("cursor", cursor);
      return request<DatasetDiff>("GET", `/api/datasets/${path(name)}/diff?${params}`);
    },
    evalSets() {
      return request<Reply<"GET /api/evalsets">>("GET", "/api/evalsets");
    },
    /** The JSONL file as it is, posted to the API's upload path (`application/x-ndjson`). */
    uploadEvalSet(name: string, file: Blob) {
      const body =
        file.type === "application/x-ndjson" ? file : new Blob([file], { type: "application/x-ndjson" });
      return request<EvalSet>("POST", `/api/evalsets/${path(name)}`, body);
    },
    indexEvalSet(name: string) {
      return request<EvalSet>("POST", `/api/evalsets/${path(name)}/index`);
    },
    deleteEvalSet(name: string) {
      return request<Reply<"DELETE /api/evalsets/:name">>("DELETE", `/api/evalsets/${path(name)}`);
    },
  };
}
