import { ConflictError } from "../../common/domain/errors.ts";
import {
  CLAIM_BATCH,
  EXPIRED_READ,
  type Lease,
  leaseOf,
  MAX_CLAIM_ATTEMPTS,
  matchesFilters,
  type NextRequest,
  nextFilters,
  notLeasedConflict,
  planLease,
} from "../domain/lease.ts";
import type { Actor } from "../domain/review.ts";
import type { CandidateView, LeaseStore, QueuedItem } from "../ports.ts";

/**
 * Items read per voting partition (double review) by one `next`: the filter drops those the caller
 * voted on, so a reviewer with many votes waiting for a second reviewer reads at most this many.
 */
export const VOTING_READ = 25;

export interface LeaseDeps {
  readonly leases: LeaseStore;
  readonly now?: () => Date;
  /** Which of the untried candidates to try after a lost race (tests pin it). */
  readonly random?: () => number;
}

/** `POST /api/sft/next`: the candidate now held for the caller and its lease, or both `null` when none is left. */
export interface NextReply {
  readonly candidate: CandidateView | null;
  readonly lease: Lease | null;
}

/**
 * Takes the next candidate nobody holds for `actor`: first a candidate whose lease expired
 * (earliest expiry first) that passes the filters, else the oldest unleased one of the queue as
 * `GET /api/sft/queue` lists it. Each take is a conditional write; when another reviewer wins
 * the race for a candidate, another of the oldest few is tried (never one the caller skipped), at most `MAX_CLAIM_ATTEMPTS`
 * times, after which the call ends with a 409 to be retried. Expired leases the filters leave out go back to
 * the queue on the way, so no candidate stays out of it for longer than its lease. Reads and
 * writes are bounded per call, whatever the size of the queue and however many are leased.
 */
export async function nextCandidate(deps: LeaseDeps, request: NextRequest, actor: Actor): Promise<NextReply> {
  const at = (deps.now ?? (() => new Date()))();
  const now = at.toISOString();
  const lease = planLease(actor, at, request.lease_seconds);
  const filters = nextFilters(request);
  const skipped = new Set(request.skip);
  let attempts = 0;

  const holder = lease.holder;
  const votedOn = (item: QueuedItem) => Array.isArray(item.voters) && item.voters.includes(holder);
  for (const item of await deps.leases.expired(now, EXPIRED_READ)) {
    if (skipped.has(item.id)) continue;
    // One the caller voted on (double review) is not theirs to take: it waits for another reviewer.
    if (!matchesFilters(item, filters) || votedOn(item)) {
      await deps.leases.expire(item, now);
      continue;
    }
    if (attempts >= MAX_CLAIM_ATTEMPTS) break;
    attempts++;
    const candidate = await deps.leases.claim(item, lease, now);
    if (candidate) return { candidate, lease };
  }

  // Candidates waiting for a further vote come first, so a double review finishes before new
  // ones start; never one the caller voted on (a bounded read per voting partition).
  for (const item of await deps.leases.awaitingVotes(filters, holder, VOTING_READ)) {
    if (skipped.has(item.id)) continue;
    if (attempts >= MAX_CLAIM_ATTEMPTS) break;
    attempts++;
    const candidate = await deps.leases.claim(item, lease, now);
    if (candidate) return { candidate, lease };
  }

  // Every caller reads the same oldest candidates: the first try is the oldest, and after a lost
  // race a random one of the rest, so reviewers who lost together do not race again in lockstep.
  // A batch tried out is read afresh from the queue's start: what was lost is no longer in it.
  const random = deps.random ?? Math.random;
  while (attempts < MAX_CLAIM_ATTEMPTS) {
    // Read past the skipped ones, so a full batch of others is there when the queue has them.
    const read = await deps.leases.queued(filters, CLAIM_BATCH + skipped.size);
    const untried = read.filter((item) => !skipped.has(item.id));
    if (untried.length === 0) return { candidate: null, lease: null };
    while (untried.length > 0 && attempts < MAX_CLAIM_ATTEMPTS) {
      const pick = attempts === 0 ? 0 : Math.floor(random() * untried.length);
      const [item] = untried.splice(pick, 1);
      if (!item) break;
      attempts++;
      const candidate = await deps.leases.claim(item, lease, now);
      if (candidate) return { candidate, lease };
    }
  }
  throw new ConflictError(
    `Other reviewers took each of the ${attempts} candidates tried first: ask for the next one again`,
    "needs_review",
  );
}

/** `POST /api/sft/release`: the caller gives back a candidate they hold (a skip); it rejoins the queue in its place. */
export async function releaseLease(deps: LeaseDeps, id: string, actor: Actor): Promise<void> {
  const holder = typeof actor === "string" ? actor : actor.id;
  const outcome = await deps.leases.release(id, holder);
  if (outcome.released) return;
  const { current } = outcome;
  throw notLeasedConflict(id, current.status, leaseOf(current), (deps.now ?? (() => new Date()))());
}
