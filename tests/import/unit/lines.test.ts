import { describe, expect, it } from "vitest";
import { splitLines } from "../../../lib/import/domain/lines.ts";

async function collect(chunks: string[], maxLineBytes = 1_000, keepBytes = 10) {
  async function* source() {
    for (const chunk of chunks) yield Buffer.from(chunk);
  }
  const lines = [];
  for await (const line of splitLines(source(), { maxLineBytes, keepBytes })) lines.push(line);
  return lines;
}

describe("splitLines", () => {
  it("numbers LF and CRLF lines, keeps blank lines and a last line without a newline", async () => {
    const lines = await collect(["a\r\nb", "c\n\n", "last"]);
    expect(lines.map((l) => [l.number, l.text])).toEqual([
      [1, "a"],
      [2, "bc"],
      [3, ""],
      [4, "last"],
    ]);
  });

  it("does not invent a line after a final newline", async () => {
    expect(await collect(["a\nb\n"])).toHaveLength(2);
  });

  it("decodes multi-byte characters split across chunks", async () => {
    const bytes = Buffer.from("café ☕\n");
    async function* source() {
      for (const byte of bytes) yield Uint8Array.of(byte);
    }
    const lines = [];
    for await (const line of splitLines(source(), { maxLineBytes: 100 })) lines.push(line.text);
    expect(lines).toEqual(["café ☕"]);
  });

  it("cuts an over-long line to its first bytes and reports its full size", async () => {
    const lines = await collect(["short\n", "x".repeat(30), "y".repeat(30), "\nnext\n"], 40, 10);
    expect(lines[1]).toEqual({ number: 2, text: "xxxxxxxxxx", tooLong: { bytes: 60 } });
    expect(lines[2]).toEqual({ number: 3, text: "next" });
  });

  it("reports every byte to onBytes", async () => {
    let total = 0;
    async function* source() {
      yield Buffer.from("ab\ncd");
    }
    for await (const _ of splitLines(source(), { maxLineBytes: 10, onBytes: (c) => (total += c.length) })) {
      // drain
    }
    expect(total).toBe(5);
  });
});
