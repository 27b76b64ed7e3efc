import * as z from "zod";
import { ConflictError } from "../../common/domain/errors.ts";
import type { QueueFilters } from "./queue.ts";
import type { Actor } from "./review.ts";

/**
 * Leases: `POST /api/sft/next` hands the caller the next candidate nobody holds and holds it for
 * them for a while, so reviewers working the same queue never collide. A lease ends when the
 * candidate is decided, when its holder releases it (a skip), or when it expires; an expired
 * lease is anyone's to take. A lease is not a review transition: the candidate stays
 * `needs_review`, its version and the counters do not move.
 */

export const DEFAULT_LEASE_SECONDS = 600;
export const MIN_LEASE_SECONDS = 30;
export const MAX_LEASE_SECONDS = 3_600;

/**
 * Claims one `next` call may try before it gives up with a 409: each lost race (another reviewer
 * took that candidate first) costs one, so a call's reads and writes stay bounded.
 */
export const MAX_CLAIM_ATTEMPTS = 24;
/** Candidates read from the head of the queue per round of claims: the oldest few a lost race picks among. */
export const CLAIM_BATCH = 12;
/** Expired leases read per call (per lease shard), earliest expiry first. */
export const EXPIRED_READ = 4;

const filterValue = z.string().trim().min(1).max(512).optional();

/** The most ids a `next` call may pass over (`skip`): each widens what the call reads by one. */
export const MAX_SKIP = 50;

/**
 * `POST /api/sft/next`: the queue's filters, how long to hold the candidate, and the candidates
 * the caller skipped (released), which it is not handed again while they wait for someone else.
 */
export const NextRequest = z.object({
  model: filterValue,
  task_type: filterValue,
  run_id: filterValue,
  source: filterValue,
  lease_seconds: z
    .number()
    .int()
    .min(MIN_LEASE_SECONDS)
    .max(MAX_LEASE_SECONDS)
    .default(DEFAULT_LEASE_SECONDS),
  skip: z.array(z.string().min(1).max(512)).max(MAX_SKIP).default([]),
});
export type NextRequest = z.output<typeof NextRequest>;

export function nextFilters(request: NextRequest): QueueFilters {
  const filters: Record<string, string> = {};
  for (const name of ["model", "task_type", "run_id", "source"] as const) {
    const value = request[name];
    if (value !== undefined) filters[name] = value;
  }
  return filters;
}

/** Who holds a candidate and until when (an ISO time). */
export interface Lease {
  readonly holder: string;
  readonly holder_name: string;
  readonly expires_at: string;
}

/** The lease attributes as a candidate item stores them. */
export interface LeaseFields {
  readonly lease_holder?: string | null;
  readonly lease_holder_name?: string | null;
  readonly lease_expires_at?: string | null;
}

const actorId = (actor: Actor) => (typeof actor === "string" ? actor : actor.id);
const actorName = (actor: Actor) => (typeof actor === "string" ? actor : actor.name);

/** The lease `actor` takes at `at` for `seconds`. */
export function planLease(actor: Actor, at: Date, seconds: number): Lease {
  return {
    holder: actorId(actor),
    holder_name: actorName(actor),
    expires_at: new Date(at.getTime() + seconds * 1000).toISOString(),
  };
}

/** The stored lease, whether or not it has expired; `null` when the candidate has none. */
export function leaseOf(fields: LeaseFields): Lease | null {
  if (!fields.lease_holder || !fields.lease_expires_at) return null;
  return {
    holder: fields.lease_holder,
    holder_name: fields.lease_holder_name ?? fields.lease_holder,
    expires_at: fields.lease_expires_at,
  };
}

/** A lease still holds until its expiry; at that instant it is over (ISO times compare as text). */
export function isLeaseActive(lease: Lease | null, at: Date | string): lease is Lease {
  const now = typeof at === "string" ? at : at.toISOString();
  return lease !== null && lease.expires_at > now;
}

/** The lease that stops `actor` from changing the candidate at `at`: someone else's, unexpired. */
export function blockingLease(fields: LeaseFields, actor: Actor, at: Date | string): Lease | null {
  const lease = leaseOf(fields);
  return isLeaseActive(lease, at) && lease.holder !== actorId(actor) ? lease : null;
}

/** The 409 for a candidate someone else holds: it names the holder (name and id) and the expiry. */
export function leaseConflict(id: string, lease: Lease): ConflictError {
  const who = lease.holder_name === lease.holder ? lease.holder : `${lease.holder_name} (${lease.holder})`;
  return new ConflictError(
    `Candidate ${id} is leased to ${who} until ${lease.expires_at} (current status: needs_review)`,
    "needs_review",
  );
}

/** The 409 for a release by someone who does not hold the candidate. */
export function notLeasedConflict(id: string, status: string, lease: Lease | null, at: Date): ConflictError {
  if (status === "needs_review" && isLeaseActive(lease, at)) return leaseConflict(id, lease);
  return new ConflictError(
    status === "needs_review"
      ? `Candidate ${id} is not leased to you (current status: ${status})`
      : `Candidate ${id} is ${status}, not leased (current status: ${status})`,
    status,
  );
}

/** How the queue's filters read a candidate's attributes (as `GET /api/sft/queue` applies them). */
export const FILTER_PATHS: Record<keyof QueueFilters, readonly string[]> = {
  model: ["provenance", "model"],
  task_type: ["task_type"],
  run_id: ["provenance", "source_run_id"],
  source: ["provenance", "source"],
};

/** Whether a stored candidate passes the queue's filters. */
export function matchesFilters(item: Readonly<Record<string, unknown>>, filters: QueueFilters): boolean {
  return (Object.entries(filters) as [keyof QueueFilters, string | undefined][]).every(([name, value]) => {
    if (value === undefined) return true;
    let at: unknown = item;
    for (const part of FILTER_PATHS[name]) {
      at = at !== null && typeof at === "object" ? (at as Record<string, unknown>)[part] : undefined;
    }
    return at === value;
  });
}
