import { HttpError, type Router } from "@aws-lambda-powertools/event-handler/http";
import {
  ConflictError,
  DomainError,
  ForbiddenError,
  NotConfiguredError,
  NotFoundError,
  PayloadTooLargeError,
  TimeLimitError,
  TooLargeForRequestError,
  UnauthorizedError,
  ValidationError,
} from "../domain/errors.ts";

interface ErrorLogger {
  error(message: string, ...extra: unknown[]): void;
}

export interface ErrorResponse {
  readonly status: number;
  readonly body: { readonly detail: unknown };
}

/** The status code of each domain error, the one place the HTTP meaning of an error is decided. */
const STATUS_OF: readonly (readonly [abstract new (...args: never[]) => DomainError, number])[] = [
  [NotFoundError, 404],
  [ConflictError, 409],
  [ValidationError, 422],
  [UnauthorizedError, 401],
  [ForbiddenError, 403],
  [PayloadTooLargeError, 413],
  [TooLargeForRequestError, 413],
  [NotConfiguredError, 503],
  [TimeLimitError, 503],
];

/** The status a domain error answers with; one missing from the table is a bug, so a 500. */
export function statusOf(error: DomainError): number {
  return STATUS_OF.find(([type]) => error instanceof type)?.[1] ?? 500;
}

/**
 * The one mapping from errors to responses, by `instanceof`: domain errors by the table above,
 * the router's own (unknown route, wrong method) theirs; anything else is a logged 500 whose
 * body says nothing about the cause. Every body is `{"detail": ...}`, as Avocet answers.
 */
export function errorResponse(error: unknown, logger?: ErrorLogger): ErrorResponse {
  if (error instanceof DomainError && statusOf(error) !== 500) {
    return { status: statusOf(error), body: { detail: error.detail } };
  }
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
