import { Router } from "@aws-lambda-powertools/event-handler/http";
import type { Context } from "aws-lambda";
import { describe, expect, it } from "vitest";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import { registerErrorResponses } from "../../../lib/common/http/errors.ts";
import { routerHandler } from "../../../lib/common/http/handler.ts";
import { RecordingMetrics } from "../../../lib/common/metrics.ts";
import { staticIngestTokens } from "../../../lib/ingest/adapters/ingest-tokens.ts";
import { createCorrectionRecordHandler } from "../../../lib/ingest/edge/correction-records.ts";
import { registerIngestRoutes } from "../../../lib/ingest/edge/ingest-routes.ts";
import { INGEST_METRICS } from "../../../lib/ingest/metrics.ts";
import type { CorrectionStore, IngestQuarantine } from "../../../lib/ingest/ports.ts";
import type { IngestCorrectionDeps } from "../../../lib/ingest/usecases/ingest-correction.ts";
import { sqsRecord } from "../../support/events.ts";
import { httpEvent } from "../../support/http-events.ts";
import { capturedLogLines } from "../../support/logs.ts";

class MemoryCorrections implements CorrectionStore {
  readonly stored = new Map<string, Candidate>();
  async insertIfAbsent(candidate: Candidate) {
    if (this.stored.has(candidate.id)) return "already_stored" as const;
    this.stored.set(candidate.id, candidate);
    return "inserted" as const;
  }
  async storedCorrection(id: string) {
    const record = this.stored.get(id);
    return record
      ? {
          fingerprint: (record.correction_sha256 as string | undefined) ?? null,
          source: record.source ?? null,
          idempotencyKey: null,
        }
      : undefined;
  }
}

const quarantine: IngestQuarantine = { put: async (entry) => `quarantine/ingest/${entry.message_id}.json` };
const TOKEN = "kiwi-token-0123456789";
const body = (overrides: Record<string, unknown> = {}) => ({
  source: "kiwi",
  task_type: "email_classification",
  prompt: "Classify: offer",
  response: "rejection",
  correction: "offer",
  ...overrides,
});

function setup() {
  const metrics = new RecordingMetrics();
  const deps: IngestCorrectionDeps = { corrections: new MemoryCorrections(), quarantine, metrics };
  const app = new Router();
  registerErrorResponses(app);
  registerIngestRoutes(app, { tokens: staticIngestTokens({ kiwi: TOKEN }), ingest: deps });
  const handler = routerHandler(app);
  const post = async (request: Parameters<typeof httpEvent>[2]) =>
    (await handler(httpEvent("POST", "/api/sft/ingest", request), {} as Context)).statusCode;
  return { metrics, deps, post };
}

describe("the ingest metrics", () => {
  it("count corrections from the queue: ingested, delivered again, refused by reason", async () => {
    const { metrics, deps } = setup();
    const handle = createCorrectionRecordHandler(deps);
    await handle(sqsRecord(JSON.stringify(body()), { messageId: "m-1" }));
    await handle(sqsRecord(JSON.stringify(body()), { messageId: "m-1" }));
    await handle(sqsRecord("not json", { messageId: "m-2" }));
    await handle(sqsRecord(JSON.stringify(body({ correction: " " })), { messageId: "m-3" }));
    expect(metrics.total(INGEST_METRICS.ingested)).toBe(1);
    expect(metrics.total(INGEST_METRICS.duplicates)).toBe(1);
    expect(metrics.total(INGEST_METRICS.refused)).toBe(2);
    expect(metrics.total(INGEST_METRICS.refused, "invalid_json")).toBe(1);
  });

  it("count corrections over HTTP: ingested, and refused by reason (unauthenticated, invalid)", async () => {
    const { metrics, post } = setup();
    expect(await post({ body: body(), token: TOKEN, headers: { "idempotency-key": "k-1" } })).toBe(200);
    expect(await post({ body: body() })).toBe(401);
    expect(await post({ body: body({ source: "other" }), token: TOKEN })).toBe(403);
    expect(await post({ body: { source: "kiwi" }, token: TOKEN })).toBe(422);
    expect(metrics.total(INGEST_METRICS.ingested)).toBe(1);
    expect(metrics.total(INGEST_METRICS.refused, "unauthorized")).toBe(1);
    expect(metrics.total(INGEST_METRICS.refused, "forbidden_source")).toBe(1);
    expect(metrics.total(INGEST_METRICS.refused)).toBe(3);
    expect(metrics.total(INGEST_METRICS.refused, "other")).toBe(0);
  });
});

describe("the ingest log lines", () => {
  it("carry the queue message's id", async () => {
    const { deps } = setup();
    const handle = createCorrectionRecordHandler(deps);
    const lines = await capturedLogLines(() => handle(sqsRecord("not json", { messageId: "msg-77" })));
    const quarantined = lines.find((line) => line.includes("correction quarantined"));
    expect(quarantined).toContain("correlation_id=msg-77");
    expect(quarantined).toContain("message_id=msg-77");
  });

  it("carry the API Gateway request id of the request they belong to", async () => {
    const app = new Router();
    registerIngestRoutes(app, {
      tokens: staticIngestTokens({ kiwi: TOKEN }),
      ingest: { corrections: new MemoryCorrections(), quarantine },
    });
    const event = httpEvent("POST", "/api/sft/ingest", { headers: { "x-note": "caf\u0113" } });
    const lines = await capturedLogLines(() => routerHandler(app)(event, {} as Context));
    const refused = lines.find((line) => line.includes("request refused"));
    expect(refused).toContain(`correlation_id=${event.requestContext.requestId}`);
    expect(refused).toContain(`request_id=${event.requestContext.requestId}`);
  });
});
