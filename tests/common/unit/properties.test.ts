import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FAILURE_CATEGORIES } from "../../../lib/common/domain/candidate.ts";
import {
  EXCLUSION_REASONS,
  ExportFirewall,
  type FirewallVerdict,
} from "../../../lib/exports/domain/export-firewall.ts";
import { FORMATS, TRAINER_RULES } from "../../../lib/exports/domain/export-formats.ts";
import { EXPORT_FORMATS, ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { splitLines } from "../../../lib/import/domain/lines.ts";
import {
  classifyRunLine,
  type LineVerdict,
  QUARANTINE_REASONS,
} from "../../../lib/import/domain/run-line.ts";
import {
  CORRECTION_FAULTS,
  type CorrectionVerdict,
  classifyCorrection,
} from "../../../lib/ingest/domain/correction.ts";
import type { CorrectionStore, IngestQuarantineEntry } from "../../../lib/ingest/ports.ts";
import {
  ingestCorrectionDelivery,
  MAX_CORRECTION_BYTES,
  QUARANTINE_RAW_CHARS,
} from "../../../lib/ingest/usecases/ingest-correction.ts";
import { samplePath } from "../../../samples/index.ts";

/**
 * Property-based tests of everything that reads untrusted input: the run-file line splitter and
 * line classifier, the correction schema, and every export format behind the firewall. For any
 * input the answer is a value or a refusal with a reason from the fixed set: never a throw, never
 * nothing. Runs are bounded (fixed seed per property, ~200 cases) so the file stays under a few
 * seconds; a failure prints the seed and the shrunk counterexample to replay it.
 */
const RUNS = { numRuns: 200 };

const fixtureLines = (...path: string[]) =>
  readFileSync(samplePath(...path), "utf8")
    .split("\n")
    .map((line) => line.replace(/\r$/, ""))
    .filter((line) => line.trim() !== "" && line.length < 50_000);

// ─── Generators shared by the parsers ────────────────────────────────────────────────────────

/** Any text: ASCII, full Unicode (astral planes and lone surrogates), JSON-looking noise. */
const anyText = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.string({ unit: fc.constantFrom("{", "}", "[", "]", '"', ":", ",", "\\", " ", "\n", "\t", "a", "1") }),
);

/** Any JSON document, as text. */
const anyJsonText = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value));

/** Keys that trip naive object handling. */
const awkwardKey = fc.constantFrom("__proto__", "constructor", "prototype", "toString", "", " ", "id ");

/**
 * A JSON object as text whose fields are `fields` (each present with a fitting value, present
 * with any JSON value, or absent) plus a few unknown or awkward keys. Written by hand so keys such
 * as `__proto__` reach `JSON.parse` as own properties, as they would from a producer.
 */
function objectText(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<string> {
  const entries = Object.entries(fields).map(([name, fitting]) =>
    fc
      .oneof(
        { weight: 6, arbitrary: fitting.map((value) => ({ present: true, value })) },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => ({ present: true, value })) },
        { weight: 1, arbitrary: fc.constant({ present: false, value: undefined as unknown }) },
      )
      .map((choice) => [name, choice] as const),
  );
  const extras = fc.array(
    fc.tuple(fc.oneof(awkwardKey, fc.string({ maxLength: 8 })), fc.jsonValue({ maxDepth: 2 })),
    { maxLength: 3 },
  );
  return fc.tuple(fc.tuple(...entries), extras, fc.boolean()).map(([known, unknown, extrasFirst]) => {
    const pairs: [string, unknown][] = [
      ...known
        .filter(([, choice]) => choice.present)
        .map(([name, choice]) => [name, choice.value] as [string, unknown]),
    ];
    const all = extrasFirst ? [...unknown, ...pairs] : [...pairs, ...unknown];
    return `{${all.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value ?? null)}`).join(",")}}`;
  });
}

/** A real line changed the way lines get damaged: cut, spliced, a span deleted, a field swapped or dropped. */
function mutated(lines: readonly string[]): fc.Arbitrary<string> {
  const line = fc.constantFrom(...lines);
  return fc.oneof(
    fc.tuple(line, fc.nat()).map(([text, at]) => text.slice(0, at % (text.length + 1))),
    fc.tuple(line, fc.nat(), anyText).map(([text, at, insert]) => {
      const i = at % (text.length + 1);
      return text.slice(0, i) + insert + text.slice(i);
    }),
    fc.tuple(line, fc.nat(), fc.nat({ max: 40 })).map(([text, at, length]) => {
      const i = at % (text.length + 1);
      return text.slice(0, i) + text.slice(i + length);
    }),
    fc.tuple(line, fc.nat(), fc.jsonValue({ maxDepth: 2 })).map(([text, pick, value]) => {
      const object = JSON.parse(text) as Record<string, unknown>;
      const keys = Object.keys(object);
      const key = keys[pick % keys.length] as string;
      return JSON.stringify({ ...object, [key]: value });
    }),
    fc.tuple(line, fc.nat()).map(([text, pick]) => {
      const object = JSON.parse(text) as Record<string, unknown>;
      const keys = Object.keys(object);
      delete object[keys[pick % keys.length] as string];
      return JSON.stringify(object);
    }),
  );
}

const jsonLinesOf = (lines: readonly string[]) =>
  lines.filter((line) => {
    try {
      const value = JSON.parse(line);
      return value !== null && typeof value === "object" && !Array.isArray(value);
    } catch {
      return false;
    }
  });

// ─── splitLines ──────────────────────────────────────────────────────────────────────────────

/** Bytes as uploads arrive: text with LF, CRLF and lone CR, multi-byte characters, invalid UTF-8. */
const runBytes = fc
  .array(
    fc.oneof(
      fc.constantFrom("\n", "\r\n", "\r", "\n\n", "é", "☕", "😀", " ").map((text) => Buffer.from(text)),
      fc.string({ unit: "binary", maxLength: 24 }).map((text) => Buffer.from(text)),
      fc.string({ maxLength: 24 }).map((text) => Buffer.from(text)),
      fc.uint8Array({ maxLength: 12 }).map((bytes) => Buffer.from(bytes)),
    ),
    { maxLength: 30 },
  )
  .map((parts) => Buffer.concat(parts));

/** Cut points for a buffer of any length; repeated points give empty chunks. */
const cuts = fc.array(fc.nat(), { maxLength: 24 });

function chunked(bytes: Buffer, points: readonly number[]): Uint8Array[] {
  // Views into a larger buffer at an offset, as a stream hands out slices of its own memory.
  const backing = new Uint8Array(bytes.length + 16);
  backing.set(bytes, 7);
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const edges = [0, ...at, bytes.length];
  return edges.slice(1).map((end, i) => backing.subarray(7 + (edges[i] as number), 7 + end));
}

async function* fromChunks(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

/** A stream that reuses one buffer for every chunk, as Node's readers may. */
async function* reusingBuffer(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  const shared = new Uint8Array(Math.max(1, ...chunks.map((c) => c.length)));
  for (const chunk of chunks) {
    shared.fill(0x2a);
    shared.set(chunk);
    yield shared.subarray(0, chunk.length);
  }
}

async function linesOf(source: AsyncIterable<Uint8Array>, maxLineBytes: number, keepBytes: number) {
  const seen: Uint8Array[] = [];
  const lines = [];
  for await (const line of splitLines(source, {
    maxLineBytes,
    keepBytes,
    onBytes: (chunk) => seen.push(Uint8Array.from(chunk)),
  })) {
    lines.push(line);
  }
  return { lines, seen: Buffer.concat(seen) };
}

/** The reference: split on LF, drop nothing but the empty tail after a final LF, decode each line alone. */
function expectedLines(bytes: Buffer, maxLineBytes: number, keepBytes: number) {
  const pieces: { piece: Buffer; end: number }[] = [];
  let start = 0;
  for (let nl = bytes.indexOf(0x0a); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
    pieces.push({ piece: bytes.subarray(start, nl), end: nl + 1 });
    start = nl + 1;
  }
  if (start < bytes.length) pieces.push({ piece: bytes.subarray(start), end: bytes.length });
  const decode = (piece: Buffer) => new TextDecoder("utf-8").decode(piece);
  return pieces.map(({ piece, end }, i) =>
    piece.length > maxLineBytes
      ? { number: i + 1, end, text: decode(piece.subarray(0, keepBytes)), tooLong: { bytes: piece.length } }
      : { number: i + 1, end, text: decode(piece.at(-1) === 0x0d ? piece.subarray(0, -1) : piece) },
  );
}

/** Limits as the import sets them (the kept head never longer than the limit), scaled down. */
const limits = fc
  .integer({ min: 1, max: 48 })
  .chain((maxLineBytes) =>
    fc.record({ maxLineBytes: fc.constant(maxLineBytes), keepBytes: fc.nat({ max: maxLineBytes }) }),
  );

describe("splitLines, for any bytes and any chunking", () => {
  it("yields the same lines however the bytes are chunked, even from a stream that reuses its buffer", async () => {
    await fc.assert(
      fc.asyncProperty(runBytes, cuts, cuts, limits, async (bytes, a, b, { maxLineBytes, keepBytes }) => {
        const first = await linesOf(fromChunks(chunked(bytes, a)), maxLineBytes, keepBytes);
        const second = await linesOf(reusingBuffer(chunked(bytes, b)), maxLineBytes, keepBytes);
        expect(second.lines).toEqual(first.lines);
        expect((await linesOf(fromChunks([bytes]), maxLineBytes, keepBytes)).lines).toEqual(first.lines);
      }),
      { ...RUNS, seed: 9001 },
    );
  });

  it("loses no byte and invents no line: every LF ends one numbered line, every byte reaches onBytes", async () => {
    await fc.assert(
      fc.asyncProperty(runBytes, cuts, limits, async (bytes, points, { maxLineBytes, keepBytes }) => {
        const { lines, seen } = await linesOf(fromChunks(chunked(bytes, points)), maxLineBytes, keepBytes);
        expect(seen.equals(bytes)).toBe(true);
        expect(lines).toEqual(expectedLines(bytes, maxLineBytes, keepBytes));
        const newlines = bytes.filter((byte) => byte === 0x0a).length;
        const unterminated = bytes.length > 0 && bytes.at(-1) !== 0x0a ? 1 : 0;
        expect(lines.map((line) => line.number)).toEqual(
          Array.from({ length: newlines + unterminated }, (_, i) => i + 1),
        );
      }),
      { ...RUNS, seed: 9002 },
    );
  });

  it("bounds an over-long line to its first keepBytes and reports its full size", async () => {
    await fc.assert(
      fc.asyncProperty(runBytes, cuts, limits, async (bytes, points, { maxLineBytes, keepBytes }) => {
        const { lines } = await linesOf(fromChunks(chunked(bytes, points)), maxLineBytes, keepBytes);
        for (const line of lines) {
          if (line.tooLong) {
            expect(line.tooLong.bytes).toBeGreaterThan(maxLineBytes);
            // One UTF-16 unit per byte at most (U+FFFD for a cut character), so never more than kept.
            expect(line.text.length).toBeLessThanOrEqual(keepBytes);
          } else {
            expect(Buffer.byteLength(line.text)).toBeLessThanOrEqual(maxLineBytes * 3);
          }
        }
        const total = lines.reduce((sum, line) => sum + (line.tooLong?.bytes ?? 0), 0);
        expect(total).toBeLessThanOrEqual(bytes.length);
      }),
      { ...RUNS, seed: 9003 },
    );
  });
});

// ─── classifyRunLine ─────────────────────────────────────────────────────────────────────────

const cleanRun = fixtureLines("runs", "2026-04-07-143022", "sft_candidates.jsonl");
const damagedRun = fixtureLines("runs", "2026-04-09-080000-damaged", "sft_candidates.jsonl");
/** What classifyRunLine itself decides; duplicates and sizes are decided by the import around it. */
const LINE_REASONS = QUARANTINE_REASONS.filter(
  (reason) => !["duplicate_id", "line_too_large", "item_too_large"].includes(reason),
);

const candidateLineText = objectText({
  id: fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.constant(null)),
  source: fc.string({ maxLength: 10 }),
  timestamp: fc.oneof(
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constantFrom("2026-04-07T14:30:22Z", "2026-04-07 14:30", "yesterday"),
  ),
  status: fc.constantFrom("needs_review", "approved", "discarded"),
  prompt_messages: fc.array(
    fc.record({ role: fc.constantFrom("system", "user", ""), content: fc.string() }),
    {
      maxLength: 3,
    },
  ),
  model_response: fc.string({ maxLength: 20 }),
  quality_score: fc.double({ noNaN: false }),
  failure_category: fc.oneof(fc.constantFrom(...FAILURE_CATEGORIES), fc.string({ maxLength: 8 })),
  gpu_id: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 3 })),
  tokens_per_sec: fc.double(),
});

const runLineInput = fc.oneof(
  anyText,
  anyJsonText,
  candidateLineText,
  mutated(jsonLinesOf([...cleanRun, ...damagedRun])),
  fc.constantFrom(...damagedRun, "", " ", "\t", "\r", "\u00a0\u2028"),
);

function checkRunVerdict(text: string, verdict: LineVerdict) {
  if (verdict.ok) {
    expect(typeof verdict.line.id).toBe("string");
    expect(verdict.line.id).toBe(verdict.line.id.trim());
    expect(verdict.line.id.length).toBeGreaterThan(0);
    return;
  }
  expect(LINE_REASONS).toContain(verdict.reason);
  expect(verdict.detail).toMatch(/\S/);
  // The reason is the first fault in a fixed order, decided the same way for any input.
  let parsed: unknown;
  let json = true;
  try {
    parsed = JSON.parse(text);
  } catch {
    json = false;
  }
  const expected =
    text.trim() === ""
      ? "blank_line"
      : !json
        ? "invalid_json"
        : parsed === null || typeof parsed !== "object" || Array.isArray(parsed)
          ? "not_an_object"
          : (parsed as { id?: unknown }).id == null
            ? "missing_id"
            : "invalid_field";
  expect(verdict.reason).toBe(expected);
}

describe("classifyRunLine, for any line", () => {
  it("returns a candidate with an id or a quarantine reason from the fixed set, never throws", () => {
    fc.assert(
      fc.property(runLineInput, (text) => checkRunVerdict(text, classifyRunLine(text))),
      { ...RUNS, seed: 9101 },
    );
  });

  it("accepts its own output again: a parsed line written back as JSON parses to the same candidate", () => {
    fc.assert(
      fc.property(runLineInput, (text) => {
        const verdict = classifyRunLine(text);
        if (!verdict.ok) return;
        const again = classifyRunLine(JSON.stringify(verdict.line));
        expect(again.ok).toBe(true);
        expect(again.ok && JSON.stringify(again.line)).toBe(JSON.stringify(verdict.line));
      }),
      { ...RUNS, seed: 9102 },
    );
  });
});

// ─── The ingest schema ───────────────────────────────────────────────────────────────────────

const validCorrections = fixtureLines("corrections", "valid.jsonl");
const invalidCorrections = fixtureLines("corrections", "invalid.jsonl");
/** What the schema decides; sizes are decided around it (the body, then the stored item). */
const SCHEMA_FAULTS = CORRECTION_FAULTS.filter(
  (fault) => fault !== "too_large" && fault !== "item_too_large",
);

const correctionText = objectText({
  schema_version: fc.constantFrom(1, 2, "1"),
  source: fc.oneof(fc.constantFrom("kiwi", "peregrine", "", "  "), fc.string({ maxLength: 130 })),
  task_type: fc.string({ maxLength: 12 }),
  prompt: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("", " \n")),
  prompt_messages: fc.array(
    fc.record({ role: fc.constantFrom("system", "user", ""), content: fc.string() }),
    {
      maxLength: 3,
    },
  ),
  response: fc.string({ maxLength: 20 }),
  correction: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("", "\t")),
  label: fc.string({ maxLength: 10 }),
  failure_category: fc.oneof(fc.constantFrom(...FAILURE_CATEGORIES), fc.string({ maxLength: 8 })),
  model: fc.string({ maxLength: 10 }),
  idempotency_key: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("", "   ", "k".repeat(300))),
  occurred_at: fc.oneof(
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constantFrom("2026-05-01T10:00:00+02:00", "2026-05-01", "now"),
  ),
  metadata: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
});

const correctionInput = fc.oneof(
  anyText,
  anyJsonText,
  correctionText,
  mutated(jsonLinesOf([...validCorrections, ...invalidCorrections])),
  fc.constantFrom(...validCorrections, ...invalidCorrections),
);

function checkCorrectionVerdict(verdict: CorrectionVerdict) {
  if (verdict.ok) {
    const { message } = verdict;
    expect(message.schema_version).toBe(1);
    expect(message.source.trim()).not.toBe("");
    expect(message.correction.trim()).not.toBe("");
    expect((message.prompt != null) !== (message.prompt_messages != null)).toBe(true);
    return;
  }
  expect(SCHEMA_FAULTS).toContain(verdict.reason);
  expect(verdict.issues.length).toBeGreaterThan(0);
  for (const issue of verdict.issues) expect(SCHEMA_FAULTS).toContain(issue.reason);
  expect(verdict.issues.map((issue) => issue.reason)).toContain(verdict.reason);
  expect(verdict.detail).toMatch(/\S/);
}

/** A store and quarantine that record what reached them; the store may say an item is too large. */
function recordingDeps(tooLarge: boolean) {
  const stored: string[] = [];
  const quarantined: IngestQuarantineEntry[] = [];
  const corrections: CorrectionStore = {
    storedCorrection: async () => undefined,
    insertIfAbsent: async (candidate) => {
      stored.push(candidate.id);
      return tooLarge ? "too_large" : "inserted";
    },
  };
  const quarantine = {
    put: async (entry: IngestQuarantineEntry) => {
      quarantined.push(entry);
      return `quarantine/ingest/${entry.message_id}.json`;
    },
  };
  return { deps: { corrections, quarantine }, stored, quarantined };
}

describe("the ingest schema, for any message", () => {
  it("classifyCorrection returns a message or a refusal with a reason from the fixed set, never throws", () => {
    fc.assert(
      fc.property(correctionInput, (body) => checkCorrectionVerdict(classifyCorrection(body))),
      { ...RUNS, seed: 9201 },
    );
  });

  it("a delivery is either stored once or quarantined once with its reason, never neither, never both", async () => {
    const oversized = `{"source":"kiwi","pad":"${"x".repeat(MAX_CORRECTION_BYTES)}"}`;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 20, arbitrary: correctionInput },
          { weight: 1, arbitrary: fc.constant(oversized) },
        ),
        fc.boolean(),
        async (body, tooLarge) => {
          const { deps, stored, quarantined } = recordingDeps(tooLarge);
          const outcome = await ingestCorrectionDelivery(deps, {
            messageId: "m-1",
            body,
            principal: "sqs:AIDAEXAMPLE",
            receivedAt: "2026-05-01T10:00:00.000Z",
          });
          if (outcome.status === "quarantined") {
            expect(quarantined).toHaveLength(1);
            expect(CORRECTION_FAULTS).toContain(outcome.reason);
            expect(quarantined[0]?.reason).toBe(outcome.reason);
            expect(quarantined[0]?.raw_bytes).toBe(Buffer.byteLength(body));
            expect(quarantined[0]?.raw.length).toBeLessThanOrEqual(QUARANTINE_RAW_CHARS + 40);
            // Only a record too large for an item is quarantined after reaching the store.
            expect(stored).toHaveLength(outcome.reason === "item_too_large" ? 1 : 0);
          } else {
            expect(outcome.status).toBe("ingested");
            expect(stored).toEqual([outcome.id]);
            expect(quarantined).toHaveLength(0);
          }
        },
      ),
      { ...RUNS, seed: 9202 },
    );
  });
});

// ─── Every export format, behind the firewall ────────────────────────────────────────────────

const exportText = fc.oneof(
  { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom("", "  ", "\n", "User: hi", "Bot: ok", "[EOS]", "Answer: 27.5") },
);
const role = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("system", "user", "assistant") },
  { weight: 1, arbitrary: fc.constantFrom("tool", "developer", "User", "") },
);
const turn = fc.oneof(
  { weight: 12, arbitrary: fc.record({ role, content: exportText }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);
/** Mostly well-formed conversations (system?, user, (assistant, user)*), sometimes anything. */
const promptMessages = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.option(exportText, { nil: undefined }),
        fc.array(fc.tuple(exportText, exportText), { maxLength: 2 }),
        exportText,
      )
      .map(([system, exchanges, question]) => [
        ...(system === undefined ? [] : [{ role: "system", content: system }]),
        ...exchanges.flatMap(([user, assistant]) => [
          { role: "user", content: user },
          { role: "assistant", content: assistant },
        ]),
        { role: "user", content: question },
      ]),
  },
  { weight: 3, arbitrary: fc.array(turn, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.jsonValue({ maxDepth: 2 })) },
);
const at = fc
  .date({ min: new Date("2020-01-01"), max: new Date("2030-01-01"), noInvalidDate: true })
  .map((d) => d.toISOString());
const fullProvenance = fc.record({
  source: fc.constantFrom("benchmark", "kiwi"),
  channel: fc.constant("s3-upload"),
  model: fc.constantFrom("Qwen2.5-3B", "model-a"),
  captured_at: at,
  source_run_id: fc.constantFrom("2026-04-07-143022", "run-export"),
  key: fc.constant("runs/run-export/sft_candidates.jsonl"),
  line: fc.nat({ max: 100_000 }),
  approved: fc.constant(true),
  approved_by: fc.constantFrom("ana@example.com", "reviewer@example.com"),
  approved_at: at,
});
const provenance = fc.oneof(
  { weight: 8, arbitrary: fullProvenance },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fullProvenance,
        fc.constantFrom("source", "model", "approved_by", "line", "captured_at"),
        fc.jsonValue({ maxDepth: 1 }),
      )
      .map(([block, field, value]) => ({ ...block, [field]: value })),
  },
  { weight: 1, arbitrary: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 })) },
);
/** A stored candidate as an export reads it: mostly approved and traceable, with every kind of flaw. */
const candidateRecord = fc.record({
  id: fc.oneof(
    { weight: 10, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
  ),
  status: fc.oneof(
    { weight: 8, arbitrary: fc.constant("approved") },
    { weight: 2, arbitrary: fc.constantFrom("needs_review", "discarded", "model_rejected") },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
  ),
  prompt_messages: promptMessages,
  model_response: fc.oneof(
    { weight: 8, arbitrary: exportText },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
  ),
  corrected_response: fc.oneof(
    { weight: 8, arbitrary: exportText },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
  ),
  failure_category: fc.oneof(
    fc.constantFrom(...FAILURE_CATEGORIES),
    fc.constant(null),
    fc.string({ maxLength: 8 }),
  ),
  task_type: fc.oneof(fc.constantFrom("math", "qa"), fc.constant(null)),
  model_name: fc.oneof(fc.constantFrom("Qwen2.5-3B", "model-a"), fc.constant(null)),
  benchmark_run_id: fc.oneof(fc.constant("run-export"), fc.constant(null)),
  version: fc.nat({ max: 5 }),
  provenance,
});

const exportPolicy = fc.record({
  options: fc.record({
    trl_sft_style: fc.constantFrom("messages", "prompt_completion"),
    bedrock_kb_sidecars: fc.boolean(),
  }),
  filters: fc.oneof(
    { weight: 6, arbitrary: fc.constant({}) },
    {
      weight: 1,
      arbitrary: fc.record({
        include_categories: fc.uniqueArray(fc.constantFrom(...FAILURE_CATEGORIES), { minLength: 1 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ exclude_categories: fc.uniqueArray(fc.constantFrom(...FAILURE_CATEGORIES)) }),
    },
  ),
});

function checkExportVerdict(
  format: (typeof EXPORT_FORMATS)[number],
  record: Record<string, unknown>,
  verdict: FirewallVerdict,
) {
  if (verdict.passed) {
    expect(verdict.lines.length).toBeGreaterThan(0);
    for (const { recordId, line } of verdict.lines) {
      expect(recordId).toMatch(/^[0-9a-f]{32}$/);
      // What the dataset holds is the JSON text: the line must still validate once written and read.
      const written = JSON.parse(JSON.stringify(line));
      const parsed = FORMATS[format].schema.safeParse(written);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    }
    return;
  }
  const { entry } = verdict;
  expect(EXCLUSION_REASONS).toContain(entry.reason);
  expect(entry.candidate_id).toBe(String(record.id));
  expect(entry.detail).toMatch(/\S/);
  if (entry.reason === "trainer_rule") expect(TRAINER_RULES).toContain(entry.rule);
  else expect(entry.rule).toBeUndefined();
}

describe("every export format, for any approved candidate-like record", () => {
  it.each(EXPORT_FORMATS)(
    "%s: a line that validates against the format's schema, or a firewall reason",
    (format) => {
      let passed = 0;
      fc.assert(
        fc.property(
          exportPolicy,
          fc.array(candidateRecord, { minLength: 1, maxLength: 4 }),
          (policy, records) => {
            const request = ExportRequest.parse({ format, options: policy.options, filters: policy.filters });
            const firewall = new ExportFirewall({
              format,
              options: request.options,
              filters: request.filters,
            });
            for (const record of records) {
              const verdict = firewall.screen(record);
              checkExportVerdict(format, record, verdict);
              if (verdict.passed) passed += 1;
            }
          },
        ),
        { ...RUNS, seed: 9300 + EXPORT_FORMATS.indexOf(format) },
      );
      // The generator reaches the dataset side too, not only the quarantine.
      expect(passed).toBeGreaterThan(40);
    },
  );
});
