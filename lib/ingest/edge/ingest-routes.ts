import { randomUUID } from "node:crypto";
import type { Router } from "@aws-lambda-powertools/event-handler/http";
import {
  ForbiddenError,
  PayloadTooLargeError,
  UnauthorizedError,
  ValidationError,
} from "../../common/domain/errors.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { metrics } from "../../common/metrics.ts";
import { type CorrectionMessage, classifyCorrection } from "../domain/correction.ts";
import { CORRECTION_REFUSALS, type CorrectionRefusal, INGEST_METRICS } from "../metrics.ts";
import {
  CorrectionTooLargeError,
  IdempotencyConflictError,
  type IngestCorrectionDeps,
  ingestCorrection,
} from "../usecases/ingest-correction.ts";
import {
  authenticateIngest,
  type IngestClients,
  type IngestTokenSource,
  mayIngestFor,
} from "./ingest-auth.ts";

/** Largest ingest body accepted, in bytes (413 above); a correction is text, not a document. */
export const MAX_INGEST_BODY_BYTES = 256 * 1024;

export interface IngestRouteDeps {
  readonly tokens: IngestTokenSource;
  /** Machine clients (client credentials) that may ingest, each for its one source. */
  readonly clients?: IngestClients;
  /** The sources Avocet's shared secret may still ingest for; none turns it off. */
  readonly legacySources?: readonly string[];
  readonly ingest: IngestCorrectionDeps;
}

/**
 * `POST /api/sft/ingest`: a product pushes one correction with its bearer token. Authentication
 * comes before the body is read; the body is Avocet's ingest body or the full correction
 * contract; an `Idempotency-Key` header (or the field) makes a retry return the first id.
 */
export function registerIngestRoutes(app: Router, deps: IngestRouteDeps): void {
  guardedRoutes(app).post("/api/sft/ingest", async ({ req, event }) => {
    try {
      return await ingestOne(deps, req, event);
    } catch (error) {
      const reason = refusalOf(error);
      if (reason) (deps.ingest.metrics ?? metrics).count(INGEST_METRICS.refused, 1, reason);
      throw error;
    }
  });
}

/** Why a request was refused, when it was the caller's (a 4xx); `null` for a failure of ours. */
function refusalOf(error: unknown): CorrectionRefusal | null {
  if (error instanceof UnauthorizedError) return "unauthorized";
  if (error instanceof ForbiddenError) return "forbidden_source";
  if (error instanceof CorrectionTooLargeError) return "item_too_large";
  if (error instanceof PayloadTooLargeError) return "too_large";
  if (error instanceof IdempotencyConflictError) return "idempotency_conflict";
  if (error instanceof ValidationError) {
    const type = typeof error.issues === "string" ? undefined : error.issues[0]?.type;
    return (CORRECTION_REFUSALS as readonly string[]).includes(type ?? "")
      ? (type as CorrectionRefusal)
      : "invalid_field";
  }
  return null;
}

async function ingestOne(deps: IngestRouteDeps, req: Request, event: unknown) {
  const caller = await authenticateIngest(
    req.headers.get("authorization"),
    await deps.tokens.tokens(),
    deps.clients,
    deps.legacySources,
  );
  const body = await readBody(req, MAX_INGEST_BODY_BYTES);
  const message = withIdempotencyKey(parseCorrection(body), req.headers.get("idempotency-key"));
  if (!mayIngestFor(caller, message.source)) {
    throw new ForbiddenError(
      caller.source === null
        ? "The shared ingest secret may not ingest corrections for this source"
        : "This token may only ingest corrections for its own source",
    );
  }
  const { id, warnings } = await ingestCorrection(deps.ingest, message, {
    channel: "http",
    deliveryId:
      (event as { requestContext?: { requestId?: string } }).requestContext?.requestId ?? randomUUID(),
    // The shared secret names no product: the record names the source it posted for.
    principal: caller.source === null ? `${caller.principal}:${message.source}` : caller.principal,
    receivedAt: new Date().toISOString(),
  });
  // Avocet answered `{ok, id}`; `warnings` is new beside them (empty for a traceable record).
  return { ok: true, id, warnings: [...warnings] };
}

async function readBody(req: Request, limit: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? Number.NaN);
  const tooLarge = () => new PayloadTooLargeError(`The body may be at most ${limit} bytes`);
  if (declared > limit) throw tooLarge();
  const text = await req.text();
  if (Buffer.byteLength(text) > limit) throw tooLarge();
  return text;
}

function parseCorrection(body: string): CorrectionMessage {
  const verdict = classifyCorrection(body);
  if (verdict.ok) return verdict.message;
  throw new ValidationError(
    verdict.issues.map((issue) => ({ loc: ["body", ...issue.path], msg: issue.message, type: issue.reason })),
  );
}

function withIdempotencyKey(message: CorrectionMessage, header: string | null): CorrectionMessage {
  const key = header?.trim();
  if (!key) return message;
  const fail = (msg: string) =>
    new ValidationError([{ loc: ["header", "Idempotency-Key"], msg, type: "invalid_field" }]);
  if (key.length > 256) throw fail("must be at most 256 characters");
  if (message.idempotency_key && message.idempotency_key !== key) {
    throw fail("differs from the body's idempotency_key");
  }
  return { ...message, idempotency_key: key };
}
