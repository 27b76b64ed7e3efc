/**
 * Errors a use case can end with: each says what went wrong, never how a transport answers it.
 * The HTTP edge maps them to status codes in one place (`lib/common/http/errors.ts`) by `instanceof`.
 */
export abstract class DomainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }

  /** What a caller is told: the message, or structured detail where an error has more to say. */
  get detail(): unknown {
    return this.message;
  }
}

/** The record asked for does not exist. */
export class NotFoundError extends DomainError {}

/** The record is not in the state the change expects; `currentStatus` says which state it is in. */
export class ConflictError extends DomainError {
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

/** The input is well-formed but not acceptable: its detail is a message or a list of issues. */
export class ValidationError extends DomainError {
  constructor(readonly issues: string | readonly ValidationIssue[]) {
    super(typeof issues === "string" ? issues : issues.map((i) => `${i.loc.join(".")}: ${i.msg}`).join("; "));
  }

  override get detail(): unknown {
    return this.issues;
  }
}

/** No credentials, or credentials that do not check out. */
export class UnauthorizedError extends DomainError {}

/** Credentials that check out but do not allow this request (a product token used for another source). */
export class ForbiddenError extends DomainError {}

/** The input is larger than the capability accepts. */
export class PayloadTooLargeError extends DomainError {}

/** The capability is not configured on this deployment (no ingest token at all). */
export class NotConfiguredError extends DomainError {}

/** More than can be built within one request; an asynchronous job has no such limit. */
export class TooLargeForRequestError extends DomainError {}

/** The work would outlast the time this request or function may run; it was stopped cleanly. */
export class TimeLimitError extends DomainError {}
