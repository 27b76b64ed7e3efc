import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

/** A message as the emulator holds it (the fields of fauxqs's `SqsMessage`). */
export interface JournaledMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  messageAttributes: Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }>;
  md5OfMessageAttributes: string;
  sentTimestamp: number;
  approximateReceiveCount: number;
  approximateFirstReceiveTimestamp?: number;
  delayUntil?: number;
  messageGroupId?: string;
  messageDeduplicationId?: string;
  sequenceNumber?: string;
}

/** One live message: the queue (by name) it is on, and until when it is hidden after a receive. */
export interface LiveMessage {
  readonly queue: string;
  readonly message: JournaledMessage;
  /** Epoch ms until which a receive hides it; absent when it was never received or made visible. */
  readonly invisibleUntil?: number;
}

/**
 * Every operation is absolute (it sets state, never adds to it), so replaying a journal over a
 * snapshot that already holds some of its effects gives the same state.
 */
type Operation =
  | { op: "send"; q: string; m: JournaledMessage }
  | { op: "recv"; q: string; id: string; n: number; first?: number; until: number }
  | { op: "vis"; q: string; id: string; until?: number }
  | { op: "del"; q: string; id: string }
  | { op: "purge"; q: string };

const SNAPSHOT = "snapshot.json";
const journalName = (generation: number) => `journal.${generation}.log`;
/** A journal past this size is folded into a new snapshot. */
const DEFAULT_COMPACT_BYTES = 16 * 1024 * 1024;
/** Longest a written operation waits for its fdatasync (a process crash loses nothing anyway). */
const SYNC_DELAY_MS = 20;

export interface QueueJournal {
  /** Live messages in the order they were sent, as recovered when the journal was opened. */
  readonly recovered: readonly LiveMessage[];
  sent(queue: string, message: JournaledMessage): void;
  received(queue: string, message: JournaledMessage, invisibleUntil: number): void;
  visibilityChanged(queue: string, messageId: string, invisibleUntil: number | undefined): void;
  deleted(queue: string, messageId: string): void;
  purged(queue: string): void;
  /** Live messages now, in send order. */
  live(): LiveMessage[];
  /** Syncs what is written and closes the file. */
  close(): void;
}

/**
 * The messages of the local queues kept on disk under `dir`, so they survive a crash of the
 * runtime: an append-only journal of operations (one JSON line each, written with a synchronous
 * `write` before the emulator answers, so a killed process loses nothing, and synced to the disk
 * within {@link SYNC_DELAY_MS}) over a snapshot. Opening replays both, writes a fresh snapshot
 * (temporary file, fsync, rename) and starts a new journal; a journal that outgrows
 * `compactBytes` is folded the same way while running. A torn last line (a crash mid-write) is
 * ignored.
 */
export function openQueueJournal(dir: string, options: { compactBytes?: number } = {}): QueueJournal {
  const compactBytes = options.compactBytes ?? DEFAULT_COMPACT_BYTES;
  mkdirSync(dir, { recursive: true });
  const state = new Map<string, LiveMessage>();
  const snapshotGeneration = readSnapshot(dir, state);
  // A crash after a snapshot's rename but before its journal's removal leaves older journals:
  // replaying them again is harmless, and the newest is the one that counts.
  const journals = readdirSync(dir)
    .map((name) => /^journal\.(\d+)\.log$/.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => Number(match[1]))
    .filter((generation) => generation >= snapshotGeneration)
    .sort((a, b) => a - b);
  for (const generation of journals) replay(join(dir, journalName(generation)), state);

  let generation = Math.max(snapshotGeneration, ...journals) + 1;
  let fd = -1;
  let written = 0;
  let syncTimer: NodeJS.Timeout | undefined;

  const startGeneration = () => {
    writeSnapshot(dir, generation, state);
    const previous = fd;
    fd = openSync(join(dir, journalName(generation)), "a");
    written = 0;
    if (previous >= 0) closeSync(previous);
    for (const name of readdirSync(dir)) {
      const match = /^journal\.(\d+)\.log$/.exec(name);
      if (match && Number(match[1]) < generation) rmSync(join(dir, name), { force: true });
    }
  };
  startGeneration();
  const recovered = [...state.values()];

  const sync = () => {
    syncTimer = undefined;
    if (fd >= 0) fdatasyncSync(fd);
  };

  const append = (operation: Operation) => {
    apply(state, operation);
    const line = `${JSON.stringify(operation)}\n`;
    written += writeAll(fd, line);
    if (written > compactBytes) {
      if (syncTimer) clearTimeout(syncTimer);
      syncTimer = undefined;
      generation += 1;
      startGeneration();
      return;
    }
    syncTimer ??= setTimeout(sync, SYNC_DELAY_MS);
    syncTimer.unref?.();
  };

  return {
    recovered,
    sent: (q, m) => append({ op: "send", q, m: copyOf(m) }),
    received: (q, m, until) =>
      append({
        op: "recv",
        q,
        id: m.messageId,
        n: m.approximateReceiveCount,
        ...(m.approximateFirstReceiveTimestamp !== undefined
          ? { first: m.approximateFirstReceiveTimestamp }
          : {}),
        until,
      }),
    visibilityChanged: (q, id, until) =>
      append({ op: "vis", q, id, ...(until !== undefined ? { until } : {}) }),
    deleted: (q, id) => append({ op: "del", q, id }),
    purged: (q) => append({ op: "purge", q }),
    live: () => [...state.values()],
    close() {
      if (syncTimer) clearTimeout(syncTimer);
      syncTimer = undefined;
      if (fd >= 0) {
        fdatasyncSync(fd);
        closeSync(fd);
        fd = -1;
      }
    },
  };
}

function apply(state: Map<string, LiveMessage>, operation: Operation): void {
  switch (operation.op) {
    case "send": {
      // The same id sent to another queue is a move (to a dead-letter queue): it is then the newest there.
      state.delete(operation.m.messageId);
      state.set(operation.m.messageId, { queue: operation.q, message: operation.m });
      return;
    }
    case "recv": {
      const live = state.get(operation.id);
      if (!live || live.queue !== operation.q) return;
      state.set(operation.id, {
        queue: live.queue,
        message: {
          ...live.message,
          approximateReceiveCount: operation.n,
          ...(operation.first !== undefined ? { approximateFirstReceiveTimestamp: operation.first } : {}),
        },
        invisibleUntil: operation.until,
      });
      return;
    }
    case "vis": {
      const live = state.get(operation.id);
      if (!live || live.queue !== operation.q) return;
      state.set(operation.id, {
        queue: live.queue,
        message: live.message,
        ...(operation.until !== undefined ? { invisibleUntil: operation.until } : {}),
      });
      return;
    }
    case "del": {
      if (state.get(operation.id)?.queue === operation.q) state.delete(operation.id);
      return;
    }
    case "purge": {
      for (const [id, live] of state) if (live.queue === operation.q) state.delete(id);
      return;
    }
  }
}

function readSnapshot(dir: string, state: Map<string, LiveMessage>): number {
  let text: string;
  try {
    text = readFileSync(join(dir, SNAPSHOT), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
  const snapshot = JSON.parse(text) as { generation: number; messages: LiveMessage[] };
  for (const live of snapshot.messages) state.set(live.message.messageId, live);
  return snapshot.generation;
}

function replay(file: string, state: Map<string, LiveMessage>): void {
  const lines = readFileSync(file, "utf8").split("\n");
  for (const line of lines) {
    if (line === "") continue;
    let operation: Operation;
    try {
      operation = JSON.parse(line) as Operation;
    } catch {
      // Only the last line can be torn (a crash in the middle of its write); nothing follows it.
      continue;
    }
    apply(state, operation);
  }
}

function writeSnapshot(dir: string, generation: number, state: Map<string, LiveMessage>): void {
  const tmp = join(dir, `${SNAPSHOT}.tmp`);
  const fd = openSync(tmp, "w");
  try {
    writeAll(fd, JSON.stringify({ generation, messages: [...state.values()] }));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, SNAPSHOT));
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

function writeAll(fd: number, text: string): number {
  const bytes = Buffer.from(text);
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
  return bytes.length;
}

function copyOf(message: JournaledMessage): JournaledMessage {
  return {
    messageId: message.messageId,
    body: message.body,
    md5OfBody: message.md5OfBody,
    messageAttributes: message.messageAttributes,
    md5OfMessageAttributes: message.md5OfMessageAttributes,
    sentTimestamp: message.sentTimestamp,
    approximateReceiveCount: message.approximateReceiveCount,
    ...(message.approximateFirstReceiveTimestamp !== undefined
      ? { approximateFirstReceiveTimestamp: message.approximateFirstReceiveTimestamp }
      : {}),
    ...(message.delayUntil !== undefined ? { delayUntil: message.delayUntil } : {}),
    ...(message.messageGroupId !== undefined ? { messageGroupId: message.messageGroupId } : {}),
    ...(message.messageDeduplicationId !== undefined
      ? { messageDeduplicationId: message.messageDeduplicationId }
      : {}),
    ...(message.sequenceNumber !== undefined ? { sequenceNumber: message.sequenceNumber } : {}),
  };
}
