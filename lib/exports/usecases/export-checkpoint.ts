import { randomUUID } from "node:crypto";
import { exportPrefix } from "../../common/resources.ts";
import type { FirewallMemory, Split } from "../domain/export-firewall.ts";
import type { ExportProgress } from "../domain/export-job.ts";
import type { ExportFormatPart, ExportManifest, TallyMemory } from "../domain/export-manifest.ts";
import { StateReader, type StateWriter } from "../domain/export-state.ts";
import type { KtoMemory } from "../domain/kto-order.ts";
import type {
  ExportCheckpointPointer,
  ExportCheckpointStore,
  ExportPartStore,
  ExportQueue,
  ReadPosition,
} from "../ports.ts";
import type { FileMemory } from "./resumable-file.ts";

/**
 * What lets an export stop before its invocation's deadline and go on in a new one: the queue it
 * hands the rest on through (its own), the job's checkpoint sequence, and S3 part by part.
 */
export interface ExportContinuationDeps {
  readonly queue: ExportQueue;
  readonly checkpoints: ExportCheckpointStore;
  readonly parts: ExportPartStore;
  /** Size of a file's first thousand parts: 8 MiB unless a test or benchmark sets another. */
  readonly partBytes?: number;
}

/** The files of an export as its checkpoint keeps them. */
export interface FilesMemory {
  readonly files: Readonly<Record<string, FileMemory>>;
  readonly kto: Readonly<Record<Split, KtoMemory>> | null;
  readonly linesWritten: Readonly<Record<Split, number>>;
  readonly documents: number;
}

/** The JSON header of a checkpoint's state object; the tables and file tails are its sections. */
export interface CheckpointHeader {
  readonly export_id: string;
  readonly seq: number;
  readonly started_at: string;
  /** Invocations that ran up to this checkpoint. */
  readonly invocations: number;
  /** Where the read stands: the source's position, or `{skip}` candidates for one that has none. */
  readonly position: ReadPosition | null;
  readonly tally: TallyMemory;
  readonly firewall: FirewallMemory;
  readonly files: FilesMemory;
  /** What the manifest says of the statuses not read, counted once, at the start. */
  readonly not_read: { not_read_by_status?: Record<string, number> };
  /**
   * The eval set versions the export checks against, fixed by its first invocation: every later
   * one reads exactly these indexes. Absent in a checkpoint saved before versions were pinned.
   */
  readonly eval_sets?: EvalSetPins;
  /**
   * A job of several formats (`formats`) past its first: which format this checkpoint is of and
   * what the formats before it wrote. Absent while the job's `format` is being written.
   */
  readonly formats?: FormatsMemory;
}

/** The eval set versions an export was checked against from its start (`sets: []`: none registered). */
export interface EvalSetPins {
  readonly ngram: number;
  readonly sets: readonly { readonly name: string; readonly items: number; readonly version?: string }[];
}

/** Where a job of several formats stands: the format being written and those done before it. */
export interface FormatsMemory {
  /** 1 for the first of the job's other formats, 2 for the next, … (0 would be its `format`). */
  readonly index: number;
  /** The manifest of the job's `format`, whose fields the job's one manifest keeps. */
  readonly manifest: ExportManifest;
  /** Every format finished so far, the job's `format` first. */
  readonly parts: readonly ExportFormatPart[];
}

/** A checkpoint loaded to go on from. */
export interface ExportResume {
  readonly pointer: ExportCheckpointPointer;
  readonly header: CheckpointHeader;
  readonly state: StateReader;
}

/** An invocation that saved its checkpoint and sent the message that goes on from it. */
export interface ExportHandedOn {
  readonly status: "handed_on";
  readonly seq: number;
  readonly counts: ExportProgress;
}

/** An invocation that found another one had moved the export on: it changed nothing. */
export interface ExportSuperseded {
  readonly status: "superseded";
  readonly reason: string;
}

/** A position for a source whose batches carry none: how many candidates were read from the start. */
export interface SkipPosition {
  readonly skip: number;
}

export const isSkipPosition = (position: ReadPosition | null | undefined): position is SkipPosition =>
  position !== null && position !== undefined && typeof (position as { skip?: unknown }).skip === "number";

/** `exports/<id>/checkpoints/`: the state objects, removed once the export succeeded. */
export const checkpointPrefix = (exportId: string) => `${exportPrefix(exportId)}checkpoints/`;

/** Reads the state object the job's checkpoint names. */
export async function loadResume(
  parts: ExportPartStore,
  pointer: ExportCheckpointPointer,
): Promise<ExportResume> {
  const state = new StateReader(await parts.getBytes(pointer.state_key));
  const header = state.header as CheckpointHeader;
  if (header.seq !== pointer.seq) {
    throw new Error(`checkpoint ${pointer.state_key} holds sequence ${header.seq}, not ${pointer.seq}`);
  }
  return { pointer, header, state };
}

/**
 * Saves a checkpoint: the state object first (under a key of its own, so two invocations never
 * write the same one), then the job's checkpoint moved from the sequence this invocation resumed
 * — only one invocation gets to. An invocation that loses the race removes its state object and
 * changes nothing else. The winner then hands the rest on ({@link sendContinuation}).
 */
export async function saveCheckpoint(
  continuation: ExportContinuationDeps,
  input: {
    readonly header: Omit<CheckpointHeader, "seq">;
    readonly state: StateWriter;
    readonly previous: ExportResume | null;
    readonly at: string;
  },
): Promise<{ readonly status: "saved"; readonly seq: number } | ExportSuperseded> {
  const { header, previous } = input;
  const seq = (previous?.pointer.seq ?? 0) + 1;
  const key = `${checkpointPrefix(header.export_id)}${String(seq).padStart(6, "0")}-${randomUUID().slice(0, 8)}.bin`;
  await continuation.parts.putBytes(key, input.state.chunks({ ...header, seq }), "application/octet-stream");
  const pointer: ExportCheckpointPointer = { seq, state_key: key, handed_on: false, saved_at: input.at };
  if (!(await continuation.checkpoints.save(header.export_id, pointer, previous?.pointer.seq ?? 0))) {
    await continuation.parts.remove([key]).catch(() => undefined);
    return {
      status: "superseded",
      reason: `checkpoint ${seq} was saved by another invocation (or the job finished) first`,
    };
  }
  // The checkpoint it went on from is read by no one any more.
  if (previous) await continuation.parts.remove([previous.pointer.state_key]).catch(() => undefined);
  return { status: "saved", seq };
}

/** Sends the message that goes on from checkpoint `seq` (retried a little), then notes it was sent. */
export async function sendContinuation(
  continuation: ExportContinuationDeps,
  exportId: string,
  seq: number,
): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await continuation.queue.send({ export_id: exportId, continue_from: seq });
      break;
    } catch (error) {
      // Thrown at last: the message is redelivered and, finding this checkpoint not handed on, sends it.
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
  await continuation.checkpoints.markHandedOn(exportId, seq);
}
