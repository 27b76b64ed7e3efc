import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { beforeEach, describe, expect, it } from "vitest";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import { PayloadTooLargeError } from "../../../lib/common/domain/errors.ts";
import {
  CorrectionMessage,
  type CorrectionProvenance,
  correctionFingerprint,
  correctionRecordId,
  earlierRecordId,
} from "../../../lib/ingest/domain/correction.ts";
import { createCorrectionRecordHandler } from "../../../lib/ingest/edge/correction-records.ts";
import type { CorrectionStore, IngestQuarantine, IngestQuarantineEntry } from "../../../lib/ingest/ports.ts";
import {
  CorrectionTooLargeError,
  type IngestCorrectionDeps,
  ingestCorrectionDelivery,
  MAX_CORRECTION_BYTES,
  mayIngestFor,
  QUARANTINE_RAW_CHARS,
} from "../../../lib/ingest/usecases/ingest-correction.ts";
import { lambdaContext, sqsEvent, sqsRecord } from "../../support/events.ts";

class MemoryCorrections implements CorrectionStore {
  readonly stored = new Map<string, Candidate>();
  failNext: Error | undefined;
  tooLarge = false;

  async insertIfAbsent(candidate: Candidate) {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    if (this.tooLarge) return "too_large" as const;
    if (this.stored.has(candidate.id)) return "already_stored" as const;
    this.stored.set(candidate.id, candidate);
    return "inserted" as const;
  }

  async storedCorrection(id: string) {
    const record = this.stored.get(id);
    if (!record) return undefined;
    return {
      fingerprint: (record.correction_sha256 as string | undefined) ?? null,
      source: record.source ?? null,
      idempotencyKey: (record.provenance as { idempotency_key?: string | null }).idempotency_key ?? null,
    };
  }
}

class MemoryQuarantine implements IngestQuarantine {
  readonly entries = new Map<string, IngestQuarantineEntry>();
  async put(entry: IngestQuarantineEntry) {
    const key = `quarantine/ingest/${entry.received_at.slice(0, 10)}/${entry.message_id}.json`;
    this.entries.set(key, entry);
    return key;
  }
}

const NOW = new Date("2026-05-01T12:00:00.000Z");
let corrections: MemoryCorrections;
let quarantine: MemoryQuarantine;
let deps: IngestCorrectionDeps;

beforeEach(() => {
  corrections = new MemoryCorrections();
  quarantine = new MemoryQuarantine();
  deps = { corrections, quarantine, now: () => NOW };
});

const message = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    source: "peregrine",
    task_type: "email_classification",
    prompt: "Classify: offer",
    response: "rejection",
    correction: "offer",
    idempotency_key: "k-1",
    ...overrides,
  });
const delivery = (body: string, messageId = "m-1") => ({
  messageId,
  body,
  principal: "sqs:SENDER",
  receivedAt: "2026-05-01T11:59:00.000Z",
});

describe("ingestCorrectionDelivery", () => {
  it("stores a valid message once and returns the same id for a second delivery", async () => {
    const first = await ingestCorrectionDelivery(deps, delivery(message(), "m-1"));
    const again = await ingestCorrectionDelivery(deps, delivery(message(), "m-2"));

    const warnings = [expect.stringContaining("model: is required")];
    expect(first).toEqual({ status: "ingested", id: expect.stringMatching(/^ingest-/), warnings });
    expect(again).toEqual({ status: "already_ingested", id: (first as { id: string }).id, warnings });
    expect(corrections.stored.size).toBe(1);
    const [record] = corrections.stored.values();
    expect(record?.provenance).toMatchObject({ captured_at: NOW.toISOString(), message_id: "m-1" });
  });

  it("binds queue senders to their sources when configured: another source is quarantined, stored nothing", async () => {
    const bound = { ...deps, senders: { SENDER: ["peregrine"], AROAROLE: ["kiwi"] } };

    const own = await ingestCorrectionDelivery(bound, delivery(message(), "m-1"));
    const other = await ingestCorrectionDelivery(bound, delivery(message({ source: "kiwi" }), "m-2"));
    const roleSession = await ingestCorrectionDelivery(bound, {
      ...delivery(message({ source: "kiwi", idempotency_key: "k-2" }), "m-3"),
      principal: "sqs:AROAROLE:product-session",
    });

    expect(own.status).toBe("ingested");
    expect(other).toMatchObject({ status: "quarantined", reason: "forbidden_source" });
    expect(roleSession.status).toBe("ingested");
    expect(corrections.stored.size).toBe(2);
  });

  it("finds a correction stored under its earlier id when its source holds a newline", async () => {
    const body = message({ source: "kiwi\nweb", idempotency_key: "k-9" });
    const parsed = JSON.parse(body) as Record<string, unknown>;
    // Stored before ids changed for such sources: under the id of the parts joined by newlines.
    const earlier = earlierRecordId("kiwi\nweb", "k-9", "m-0") as string;
    corrections.stored.set(earlier, {
      id: earlier,
      source: parsed.source,
      correction_sha256: correctionFingerprint(CorrectionMessage.parse(parsed)),
      provenance: { idempotency_key: "k-9" },
    } as unknown as Candidate);

    expect(await ingestCorrectionDelivery(deps, delivery(body, "m-5"))).toEqual({
      status: "already_ingested",
      id: earlier,
      warnings: [expect.stringContaining("model")],
    });
    expect(corrections.stored.size).toBe(1);
    const changed = await ingestCorrectionDelivery(
      deps,
      delivery(message({ source: "kiwi\nweb", idempotency_key: "k-9", correction: "other" }), "m-6"),
    );
    expect(changed).toMatchObject({ status: "quarantined", reason: "idempotency_conflict" });
    // Another key of that source is a new record under the new scheme.
    const other = await ingestCorrectionDelivery(
      deps,
      delivery(message({ source: "kiwi\nweb", idempotency_key: "k-10" }), "m-7"),
    );
    expect(other).toMatchObject({ status: "ingested", id: correctionRecordId("kiwi\nweb", "k-10", "m-7") });
  });

  it("fills the model from the source's defaults only where the message names none", async () => {
    const configured = { ...deps, sourceDefaults: { peregrine: { model: "Qwen2.5-3B" } } };
    const defaulted = await ingestCorrectionDelivery(configured, delivery(message(), "m-1"));
    const named = await ingestCorrectionDelivery(
      configured,
      delivery(message({ idempotency_key: "k-2", model: "Phi-3.5-mini" }), "m-2"),
    );
    const elsewhere = await ingestCorrectionDelivery(
      configured,
      delivery(message({ source: "kiwi", idempotency_key: "k-3" }), "m-3"),
    );

    expect(defaulted).toMatchObject({ status: "ingested", warnings: [] });
    expect(named).toMatchObject({ status: "ingested", warnings: [] });
    expect(elsewhere).toMatchObject({ status: "ingested", warnings: [expect.stringContaining('"kiwi"')] });
    const provenanceOf = (outcome: unknown) =>
      corrections.stored.get((outcome as { id: string }).id)?.provenance as unknown as Record<
        string,
        unknown
      >;
    expect(provenanceOf(defaulted)).toMatchObject({ model: "Qwen2.5-3B", defaults_applied: ["model"] });
    expect(provenanceOf(named).model).toBe("Phi-3.5-mini");
    expect(provenanceOf(named)).not.toHaveProperty("defaults_applied");
    expect(provenanceOf(elsewhere).model).toBeNull();
  });

  it("lets any sender ingest for any source when no binding is configured", async () => {
    expect(mayIngestFor(undefined, "sqs:ANYONE", "kiwi")).toBe(true);
    expect(mayIngestFor({ SOMEONE: ["kiwi"] }, "sqs:ANYONE", "kiwi")).toBe(false);
  });

  it("quarantines what can never succeed, with the message id, reason and raw body", async () => {
    const outcome = await ingestCorrectionDelivery(deps, delivery(message({ correction: " " }), "m-9"));

    expect(outcome).toEqual({
      status: "quarantined",
      reason: "blank_correction",
      key: "quarantine/ingest/2026-05-01/m-9.json",
    });
    expect(quarantine.entries.get("quarantine/ingest/2026-05-01/m-9.json")).toEqual({
      message_id: "m-9",
      channel: "sqs",
      reason: "blank_correction",
      detail: "correction: must not be blank",
      received_at: "2026-05-01T11:59:00.000Z",
      quarantined_at: NOW.toISOString(),
      raw: message({ correction: " " }),
      raw_bytes: Buffer.byteLength(message({ correction: " " })),
    });
    expect(corrections.stored.size).toBe(0);
  });

  it("cuts the raw body of a large refused message and refuses an oversized one unparsed", async () => {
    const big = `{"source": "${"x".repeat(MAX_CORRECTION_BYTES)}"`;
    const outcome = await ingestCorrectionDelivery(deps, delivery(big));
    expect(outcome).toMatchObject({ status: "quarantined", reason: "too_large" });
    const [entry] = quarantine.entries.values();
    expect(entry?.raw.length).toBeLessThan(QUARANTINE_RAW_CHARS + 100);
    expect(entry?.raw_bytes).toBe(Buffer.byteLength(big));
  });

  it("quarantines a record too large to store", async () => {
    corrections.tooLarge = true;
    expect(await ingestCorrectionDelivery(deps, delivery(message()))).toMatchObject({
      status: "quarantined",
      reason: "item_too_large",
    });
  });

  it("lets a passing failure through, so the message is retried", async () => {
    corrections.failNext = Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
    await expect(ingestCorrectionDelivery(deps, delivery(message()))).rejects.toThrow("Rate exceeded");
    expect(quarantine.entries.size).toBe(0);
  });

  it("names a too-large record a 413 for the HTTP edge", () => {
    expect(new CorrectionTooLargeError("x")).toBeInstanceOf(PayloadTooLargeError);
  });
});

describe("the corrections record handler in a Powertools batch", () => {
  it("reports only the message that failed for a passing reason; quarantined ones are acknowledged", async () => {
    const handler = createCorrectionRecordHandler(deps);
    const throttled = sqsRecord(message({ idempotency_key: "throttled" }));
    const records = [sqsRecord(message({ idempotency_key: "a" })), sqsRecord("not json"), throttled];
    const store = corrections.insertIfAbsent.bind(corrections);
    corrections.insertIfAbsent = async (candidate) => {
      if ((candidate.provenance as CorrectionProvenance).message_id === throttled.messageId)
        throw new Error("socket hang up");
      return store(candidate);
    };

    const result = await processPartialResponse(
      sqsEvent(...records),
      handler,
      new BatchProcessor(EventType.SQS),
      {
        context: lambdaContext(),
      },
    );

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: throttled.messageId }]);
    expect(corrections.stored.size).toBe(1);
    expect(quarantine.entries.size).toBe(1);
  });

  it("stamps the sender and the time SQS received the message", async () => {
    const handler = createCorrectionRecordHandler(deps);
    const record = sqsRecord(message(), {
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: String(Date.parse("2026-04-01T00:00:00.000Z")),
        SenderId: "AROAEXAMPLE:product",
        ApproximateFirstReceiveTimestamp: "0",
      },
    });
    await handler(record);
    const [stored] = corrections.stored.values();
    expect(stored?.provenance).toMatchObject({
      principal: "sqs:AROAEXAMPLE:product",
      received_at: "2026-04-01T00:00:00.000Z",
    });
  });
});
