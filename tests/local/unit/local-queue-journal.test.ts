import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type JournaledMessage, openQueueJournal } from "../../../local/queue-journal.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "flywheel-journal-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const message = (id: string, body = `body of ${id}`): JournaledMessage => ({
  messageId: id,
  body,
  md5OfBody: "md5",
  messageAttributes: {},
  md5OfMessageAttributes: "",
  sentTimestamp: 1_000,
  approximateReceiveCount: 0,
});

describe("openQueueJournal", () => {
  it("recovers live messages in send order, with receives, visibility, deletes and moves", () => {
    const journal = openQueueJournal(dir);
    journal.sent("a", message("1"));
    journal.sent("a", message("2"));
    journal.sent("b", message("3"));
    journal.sent("a", message("4"));
    journal.received(
      "a",
      { ...message("1"), approximateReceiveCount: 1, approximateFirstReceiveTimestamp: 5 },
      9_000,
    );
    journal.received("a", { ...message("2"), approximateReceiveCount: 3 }, 9_000);
    journal.visibilityChanged("a", "2", undefined);
    journal.deleted("b", "3");
    // A move to a dead-letter queue is a send of the same message there.
    journal.sent("a-dlq", { ...message("4"), approximateReceiveCount: 4 });
    // A delete naming the wrong queue changes nothing.
    journal.deleted("b", "1");
    // No close: the process dies here.

    const recovered = openQueueJournal(dir).recovered;
    expect(recovered.map((live) => [live.queue, live.message.messageId])).toEqual([
      ["a", "1"],
      ["a", "2"],
      ["a-dlq", "4"],
    ]);
    expect(recovered[0]).toMatchObject({
      invisibleUntil: 9_000,
      message: { approximateReceiveCount: 1, approximateFirstReceiveTimestamp: 5, body: "body of 1" },
    });
    expect(recovered[1]?.invisibleUntil).toBeUndefined();
    expect(recovered[1]?.message.approximateReceiveCount).toBe(3);
    expect(recovered[2]?.message.approximateReceiveCount).toBe(4);
  });

  it("ignores a line torn by a crash in the middle of its write", () => {
    const journal = openQueueJournal(dir);
    journal.sent("a", message("1"));
    journal.sent("a", message("2"));
    const [log] = readdirSync(dir).filter((name) => name.startsWith("journal."));
    appendFileSync(join(dir, log as string), '{"op":"del","q":"a","id":"1"'); // no closing brace, no newline

    const recovered = openQueueJournal(dir).recovered;
    expect(recovered.map((live) => live.message.messageId)).toEqual(["1", "2"]);
  });

  it("folds a journal past its size limit into a snapshot, keeping one journal file", () => {
    const journal = openQueueJournal(dir, { compactBytes: 2_000 });
    for (let i = 0; i < 200; i++) {
      journal.sent("q", message(String(i), "x".repeat(50)));
      if (i % 2 === 0) journal.deleted("q", String(i));
    }
    expect(readdirSync(dir).filter((name) => name.startsWith("journal.")).length).toBe(1);

    const reopened = openQueueJournal(dir);
    const ids = reopened.recovered.map((live) => Number(live.message.messageId));
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => 2 * i + 1));
    expect(reopened.live()).toHaveLength(100);
    // A purge empties one queue only, and stays done after a restart.
    reopened.sent("other", message("keep"));
    reopened.purged("q");
    reopened.close();
    expect(openQueueJournal(dir).recovered.map((live) => live.message.messageId)).toEqual(["keep"]);
  });
});
