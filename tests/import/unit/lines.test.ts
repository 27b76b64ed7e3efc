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
    expect(lines[1]).toEqual({ number: 2, end: 67, text: "xxxxxxxxxx", tooLong: { bytes: 60 } });
    expect(lines[2]).toEqual({ number: 3, end: 72, text: "next" });
  });

  it("numbers lines and bytes on from where a resumed read starts", async () => {
    async function* source() {
      yield Buffer.from("é\nb");
    }
    const lines = [];
    for await (const line of splitLines(source(), { maxLineBytes: 10, linesBefore: 41, offset: 1000 })) {
      lines.push(line);
    }
    expect(lines).toEqual([
      { number: 42, end: 1003, text: "é" },
      { number: 43, end: 1004, text: "b" },
    ]);
  });

  it("shows onBytes only the bytes of the lines consumed, up to the last one's end", async () => {
    const seen: string[] = [];
    async function* source() {
      yield Buffer.from("one\ntwo\nthr");
      yield Buffer.from("ee\nfour\n");
    }
    let end = 0;
    for await (const line of splitLines(source(), {
      maxLineBytes: 10,
      onBytes: (b) => seen.push(Buffer.from(b).toString()),
    })) {
      end = line.end;
      if (line.text === "two") break;
    }
    expect(seen.join("")).toBe("one\ntwo\n");
    expect(end).toBe(8);
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
