import { HttpError, type Router } from "@aws-lambda-powertools/event-handler/http";
import { DomainError } from "../domain/errors.ts";

interface ErrorLogger {
  error(message: string, ...extra: unknown[]): void;
}

export interface ErrorResponse {
  readonly status: number;
  readonly body: { readonly detail: unknown };
}

/**
 * The one mapping from errors to responses, by `instanceof`: domain errors carry their status,
 * the router's own (unknown route, wrong method) theirs; anything else is a logged 500 whose
 * body says nothing about the cause. Every body is `{"detail": ...}`, as Avocet answers.
 */
export function errorResponse(error: unknown, logger?: ErrorLogger): ErrorResponse {
  if (error instanceof DomainError) return { status: error.status, body: { detail: error.detail } };
  if (error instanceof HttpError) return { status: error.statusCode, body: { detail: error.message } };
  logger?.error("request failed", error as Error);
  return { status: 500, body: { detail: "Internal Server Error" } };
}

/** Registers `errorResponse` as the router's handler for every error. */
export function registerErrorResponses(app: Router, logger?: ErrorLogger): void {
  app.errorHandler(Error, async (error) => {
    const { status, body } = errorResponse(error, logger);
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json" },
    });
  });
}
