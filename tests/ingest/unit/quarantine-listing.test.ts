import { describe, expect, it } from "vitest";
import { ValidationError } from "../../../lib/common/domain/errors.ts";
import { IngestQuarantineQuery } from "../../../lib/ingest/domain/quarantine-listing.ts";
import type { IngestQuarantineReader } from "../../../lib/ingest/ports.ts";
import { listIngestQuarantine } from "../../../lib/ingest/usecases/quarantine-listing.ts";

/** Refused messages kept in memory as the S3 reader hands them out: keys in order, one day each. */
function fakeReader(byDay: Record<string, { id: string; reason: string }[]>) {
  const reads: string[] = [];
  const keyOf = (day: string, id: string) => `quarantine/ingest/${day}/${id}.json`;
  const reader: IngestQuarantineReader = {
    days: async () => Object.keys(byDay).sort().reverse(),
    keys: async (day, after, max) => {
      const all = (byDay[day] ?? []).map((entry) => keyOf(day, entry.id)).sort();
      const rest = after ? all.filter((key) => key > after) : all;
      return { keys: rest.slice(0, max), more: rest.length > max };
    },
    read: async (key) => {
      reads.push(key);
      for (const [day, entries] of Object.entries(byDay)) {
        const entry = entries.find((e) => keyOf(day, e.id) === key);
        if (entry) return { message_id: entry.id, reason: entry.reason, detail: "d", raw: "r", raw_bytes: 1 };
      }
      return null;
    },
    signedLink: async (key, fileName, expiresIn) => ({
      url: `signed://${key}`,
      file_name: fileName,
      expires_in: expiresIn,
      expires_at: "t",
    }),
  };
  return { reader, reads };
}

const entries = Array.from({ length: 12 }, (_, i) => ({
  id: `m-${String(i).padStart(2, "0")}`,
  reason: i % 3 === 0 ? "too_large" : "invalid_json",
}));
const query = (input: Record<string, string>) => IngestQuarantineQuery.parse(input);
const deps = (reader: IngestQuarantineReader) => ({
  quarantine: reader,
  urlExpirySeconds: 900,
  maxUrlExpirySeconds: 3600,
  countCap: 5,
  pageBudget: 4,
});

describe("listIngestQuarantine", () => {
  it("counts the day's first entries up to the cap, says the counts are partial, and pages through every entry once", async () => {
    const { reader } = fakeReader({ "2026-12-05": entries.slice(0, 2), "2026-12-06": entries });
    const first = await listIngestQuarantine(deps(reader), query({ limit: "2" }));
    expect(first).toMatchObject({
      day: "2026-12-06",
      days: ["2026-12-06", "2026-12-05"],
      counted: 5,
      counts_complete: false,
      by_reason: { too_large: 2, invalid_json: 3 },
    });
    expect(first.items.map((item) => item.message_id)).toEqual(["m-00", "m-01"]);
    expect(first.items[0]?.download.url).toBe("signed://quarantine/ingest/2026-12-06/m-00.json");

    const seen = first.items.map((item) => item.message_id);
    let cursor = first.next_cursor;
    let pages = 1;
    while (cursor && pages < 20) {
      const page = await listIngestQuarantine(deps(reader), query({ limit: "2", cursor }));
      expect(page.by_reason).toBeNull();
      expect(page.examined).toBeLessThanOrEqual(4);
      seen.push(...page.items.map((item) => item.message_id));
      cursor = page.next_cursor;
      pages += 1;
    }
    expect(seen).toEqual(entries.map((entry) => entry.id));
  });

  it("filters by reason across pages that read a bounded number of entries, some pages empty", async () => {
    const { reader, reads } = fakeReader({ "2026-12-06": entries });
    const found: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const readsBefore = reads.length;
      const page = await listIngestQuarantine(
        deps(reader),
        query({ reason: "too_large", limit: "10", ...(cursor ? { cursor } : {}) }),
      );
      expect(reads.length - readsBefore).toBeLessThanOrEqual(pages === 0 ? 5 : 4);
      found.push(...page.items.map((item) => item.message_id));
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor && pages < 20);
    expect(found).toEqual(["m-00", "m-03", "m-06", "m-09"]);
    expect(pages).toBe(3);
  });

  it("keeps a cursor to its day, and answers an empty page when nothing was refused", async () => {
    const { reader } = fakeReader({ "2026-12-06": entries });
    const first = await listIngestQuarantine(deps(reader), query({ limit: "1" }));
    await expect(
      listIngestQuarantine(deps(reader), query({ day: "2026-12-05", cursor: first.next_cursor as string })),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(listIngestQuarantine(deps(reader), query({ expires_in: "7200" }))).rejects.toBeInstanceOf(
      ValidationError,
    );
    const empty = await listIngestQuarantine(deps(fakeReader({}).reader), query({}));
    expect(empty).toMatchObject({ day: null, days: [], items: [], next_cursor: null });
  });

  it("refuses a forged cursor whose day is not a day, before listing anything", async () => {
    const listed: string[] = [];
    const { reader } = fakeReader({ "2026-12-06": entries });
    const watched = {
      ...reader,
      keys: (day: string, after: string | null, max: number) => {
        listed.push(day);
        return reader.keys(day, after, max);
      },
    };
    for (const day of ["2026-12-06/../other", "other-prefix", "2026-12-06/"]) {
      const cursor = Buffer.from(JSON.stringify({ v: 1, d: day, a: "x" })).toString("base64url");
      await expect(listIngestQuarantine(deps(watched), query({ cursor }))).rejects.toBeInstanceOf(
        ValidationError,
      );
    }
    expect(listed).toEqual([]);
  });
});
