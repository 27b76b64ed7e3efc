import { PutObjectCommand } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type ObjectLine,
  openObjectLines,
  QUARANTINE_MAX_LINE_BYTES,
} from "../../../lib/common/adapters/quarantine-objects.ts";
import { NotFoundError, ValidationError } from "../../../lib/common/domain/errors.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";

/**
 * The ranged line reader behind the quarantine routes, against the S3 emulator with ranges of a
 * few bytes, so that lines, multi-byte characters and newlines fall across range boundaries.
 */

let aws: TestAws;
const put = (key: string, body: string | Buffer) =>
  aws.clients.s3.send(new PutObjectCommand({ Bucket: aws.resources.bucket, Key: key, Body: body }));

async function readAll(key: string, from = 0, rangeBytes = 7): Promise<ObjectLine[]> {
  const { lines } = await openObjectLines(
    aws.clients.s3,
    aws.resources.bucket,
    key,
    from,
    ["query", "cursor"],
    rangeBytes,
  );
  const out: ObjectLine[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

const TEXT = ["first", "", "ünïcødé ✓ 🙂 line", '{"a": 1}', "last without newline"].join("\n");

beforeAll(async () => {
  aws = await provisionTestAws("quarantine-objects");
  await put("t/lines.jsonl", TEXT);
  await put("t/trailing.jsonl", "a\nb\n");
  await put("t/empty.jsonl", "");
});

describe("openObjectLines", () => {
  it("reads every line with its byte range, whatever the range size", async () => {
    const expected = TEXT.split("\n");
    for (const rangeBytes of [1, 2, 7, 64, 1024]) {
      const lines = await readAll("t/lines.jsonl", 0, rangeBytes);
      expect(lines.map((line) => line.text)).toEqual(expected);
      // Ranges tile the object: each starts where the one before ended.
      expect(lines[0]?.start).toBe(0);
      for (let i = 1; i < lines.length; i++) expect(lines[i]?.start).toBe(lines[i - 1]?.end);
      expect(lines.at(-1)?.end).toBe(Buffer.byteLength(TEXT));
    }
  });

  it("starts at a line's first byte, so an end offset is a cursor that reads on", async () => {
    const all = await readAll("t/lines.jsonl");
    const third = all[2] as ObjectLine;
    const rest = await readAll("t/lines.jsonl", third.start, 5);
    expect(rest.map((line) => line.text)).toEqual(all.slice(2).map((line) => line.text));
    expect(await readAll("t/trailing.jsonl")).toEqual([
      { text: "a", start: 0, end: 2 },
      { text: "b", start: 2, end: 4 },
    ]);
    expect(await readAll("t/trailing.jsonl", 4)).toEqual([]);
    expect(await readAll("t/empty.jsonl")).toEqual([]);
  });

  it("refuses a cursor inside a line or past the end, and a missing object", async () => {
    await expect(readAll("t/lines.jsonl", 3)).rejects.toBeInstanceOf(ValidationError);
    await expect(readAll("t/lines.jsonl", 10_000)).rejects.toBeInstanceOf(ValidationError);
    await expect(readAll("t/missing.jsonl")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("skips a line longer than it keeps, and reads the next", async () => {
    const long = "x".repeat(QUARANTINE_MAX_LINE_BYTES + 10);
    await put("t/long.jsonl", `short\n${long}\nafter`);
    const lines = await readAll("t/long.jsonl", 0, 256 * 1024);
    expect(lines.map((line) => line.text)).toEqual(["short", null, "after"]);
    expect(lines[1]?.end).toBe(6 + long.length + 1);
  });
});
