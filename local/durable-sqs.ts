import { randomUUID } from "node:crypto";
import type { JournaledMessage, LiveMessage, QueueJournal } from "./queue-journal.ts";

/** The parts of fauxqs's `SqsQueue` (1.9.x) the journal follows. */
export interface EmulatedQueue {
  readonly name: string;
  messages: JournaledMessage[];
  inflightMessages: Map<
    string,
    { message: JournaledMessage; receiptHandle: string; visibilityDeadline: number }
  >;
  enqueue(message: JournaledMessage): void;
  dequeue(
    maxCount: number,
    visibilityTimeoutOverride?: number,
    dlqResolver?: unknown,
  ): { ReceiptHandle: string }[];
  deleteMessage(receiptHandle: string): boolean;
  changeVisibility(receiptHandle: string, timeoutSeconds: number): void;
  purge(): void;
}

/** The parts of fauxqs's `SqsStore` the journal needs. */
export interface EmulatedQueueStore {
  createQueue(name: string, ...rest: unknown[]): EmulatedQueue;
  getQueueByName(name: string): EmulatedQueue | undefined;
}

/**
 * Makes every queue the store creates from now on write its changes to `journal` before it
 * answers: a sent message (a move to a dead-letter queue is a send there), a receive (with its
 * count and the time the message stays hidden), a visibility change, a delete, a purge. The
 * emulator still serves from memory; the journal is what a restart recovers.
 */
export function journalQueues(store: EmulatedQueueStore, journal: QueueJournal): void {
  const createQueue = store.createQueue.bind(store);
  store.createQueue = (name: string, ...rest: unknown[]) => {
    const queue = createQueue(name, ...rest);
    follow(queue, journal);
    return queue;
  };
}

function follow(queue: EmulatedQueue, journal: QueueJournal): void {
  const enqueue = queue.enqueue.bind(queue);
  const dequeue = queue.dequeue.bind(queue);
  const deleteMessage = queue.deleteMessage.bind(queue);
  const changeVisibility = queue.changeVisibility.bind(queue);
  const purge = queue.purge.bind(queue);

  queue.enqueue = (message) => {
    journal.sent(queue.name, message);
    enqueue(message);
  };
  queue.dequeue = (maxCount, visibilityTimeoutOverride, dlqResolver) => {
    const received = dequeue(maxCount, visibilityTimeoutOverride, dlqResolver);
    for (const { ReceiptHandle } of received) {
      const entry = queue.inflightMessages.get(ReceiptHandle);
      if (entry) journal.received(queue.name, entry.message, entry.visibilityDeadline);
    }
    return received;
  };
  queue.deleteMessage = (receiptHandle) => {
    const entry = queue.inflightMessages.get(receiptHandle);
    const deleted = deleteMessage(receiptHandle);
    if (entry) journal.deleted(queue.name, entry.message.messageId);
    return deleted;
  };
  queue.changeVisibility = (receiptHandle, timeoutSeconds) => {
    const entry = queue.inflightMessages.get(receiptHandle);
    changeVisibility(receiptHandle, timeoutSeconds);
    if (!entry) return;
    const visible = timeoutSeconds === 0;
    journal.visibilityChanged(
      queue.name,
      entry.message.messageId,
      visible ? undefined : entry.visibilityDeadline,
    );
  };
  queue.purge = () => {
    journal.purged(queue.name);
    purge();
  };
  unjournaledEnqueue.set(queue, enqueue);
}

/** Each followed queue's own enqueue, to put recovered messages back without journaling them again. */
const unjournaledEnqueue = new WeakMap<EmulatedQueue, (message: JournaledMessage) => void>();

export interface RestoreReport {
  /** Queue name → messages put back visible (never received, or whose consumer died with us). */
  readonly visible: Record<string, number>;
  /** Queue name → messages put back still hidden until their visibility timeout. */
  readonly hidden: Record<string, number>;
  /** Messages of queues that no longer exist; kept in the journal. */
  readonly orphaned: number;
}

/**
 * Puts the recovered messages back on their queues, in the order they were sent, with their
 * ids, attributes and receive counts. A message that was in flight is visible at once when its
 * queue is in `consumedHere` (its consumer was one of our pollers, which died with the runtime),
 * and otherwise stays hidden until its visibility timeout, as SQS would keep it.
 */
export function restoreMessages(
  store: EmulatedQueueStore,
  recovered: readonly LiveMessage[],
  consumedHere: ReadonlySet<string>,
  now = Date.now(),
): RestoreReport {
  const visible: Record<string, number> = {};
  const hidden: Record<string, number> = {};
  let orphaned = 0;
  for (const live of recovered) {
    const queue = store.getQueueByName(live.queue);
    const enqueue = queue && unjournaledEnqueue.get(queue);
    if (!queue || !enqueue) {
      orphaned += 1;
      continue;
    }
    const message = { ...live.message };
    const until = live.invisibleUntil;
    if (until !== undefined && until > now && !consumedHere.has(live.queue)) {
      const receiptHandle = randomUUID();
      queue.inflightMessages.set(receiptHandle, { message, receiptHandle, visibilityDeadline: until });
      hidden[live.queue] = (hidden[live.queue] ?? 0) + 1;
    } else {
      enqueue(message);
      visible[live.queue] = (visible[live.queue] ?? 0) + 1;
    }
  }
  return { visible, hidden, orphaned };
}
