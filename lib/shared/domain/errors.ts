/**
 * Errors a use case can end with, each carrying the HTTP status it means. The HTTP edge maps
 * them to responses in one place (`lib/http/errors.ts`) by `instanceof`.
 */
export abstract class DomainError extends Error {
  abstract readonly status: number;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }

  /** The `detail` of the response body. */
  get detail(): unknown {
    return this.message;
  }
}

export class NotFoundError extends DomainError {
  readonly status = 404;
}

/** The record is not in the state the change expects; `currentStatus` says which state it is in. */
export class ConflictError extends DomainError {
  readonly status = 409;

  constructor(
    message: string,
    readonly currentStatus?: string,
  ) {
    super(message);
  }
}

/** One problem with a request, shaped like FastAPI's validation errors (Avocet's clients read them). */
export interface ValidationIssue {
  readonly loc: readonly (string | number)[];
  readonly msg: string;
  readonly type: string;
}

/** The request is well-formed but not acceptable: a 422 whose detail is a message or a list of issues. */
export class ValidationError extends DomainError {
  readonly status = 422;

  constructor(readonly issues: string | readonly ValidationIssue[]) {
    super(typeof issues === "string" ? issues : issues.map((i) => `${i.loc.join(".")}: ${i.msg}`).join("; "));
  }

  override get detail(): unknown {
    return this.issues;
  }
}

/** No credentials, or credentials that do not check out. */
export class UnauthorizedError extends DomainError {
  readonly status = 401;
}

/** Credentials that check out but do not allow this request (a product token used for another source). */
export class ForbiddenError extends DomainError {
  readonly status = 403;
}

/** The request body is larger than the endpoint accepts. */
export class PayloadTooLargeError extends DomainError {
  readonly status = 413;
}

/** The capability is not configured on this deployment (no ingest token at all). */
export class NotConfiguredError extends DomainError {
  readonly status = 503;
}

/** More than this endpoint builds within one request; an asynchronous job has no such limit. */
export class TooLargeForRequestError extends DomainError {
  readonly status = 413;
}

/** The work would outlast the time this request or function may run; it was stopped cleanly. */
export class TimeLimitError extends DomainError {
  readonly status = 503;
}
