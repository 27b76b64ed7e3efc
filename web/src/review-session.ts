import { reactive } from "vue";
import { ApiError, describeError, type ReviewApi } from "./api.ts";
import { ACTION_PAST } from "./format.ts";
import type { Candidate, FailureCategory, QueueFilters, ReviewAction, ReviewStats } from "./types.ts";

/**
 * Candidates this tab holds at once through leases: the one shown and the next, so the next card
 * is always there while nobody else is served either.
 */
const AHEAD = 2;
/** Where the ids of the candidates this tab holds are kept, so a refresh can give them back. */
export const HELD_KEY = "flywheel.held";
/** Skipped candidates `next` is told to pass over: the most recent ones (the API takes 50). */
const MAX_SKIPPED = 50;
const MAX_UNDO = 20;
/** A filter the API has no counter for (a run, several at once) is counted by paging, up to this many. */
export const MAX_COUNTED = 1_000;
const FILTER_NAMES = ["model", "task_type", "run_id", "source"] as const;

/** The filters that are set, in a fixed order, empty values left out. */
export function cleanFilters(filters: Readonly<Record<string, string | undefined>>): QueueFilters {
  const clean: Record<string, string> = {};
  for (const name of FILTER_NAMES) {
    const value = filters[name]?.trim();
    if (value) clean[name] = value;
  }
  return clean;
}

const sameFilters = (a: QueueFilters, b: QueueFilters) => FILTER_NAMES.every((name) => a[name] === b[name]);

export interface UndoEntry {
  readonly candidate: Candidate;
  readonly action: ReviewAction;
}

export interface Notice {
  readonly kind: "done" | "conflict" | "error";
  readonly text: string;
  /** Whether the toast offers to undo (the notice of a decision just made). */
  readonly undoable: boolean;
  readonly seq: number;
}

export type DecisionOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly moved: true; readonly message: string }
  | { readonly ok: false; readonly moved: false; readonly message: string };

export interface Decision {
  readonly action: ReviewAction;
  readonly category: FailureCategory | null;
  readonly correction?: string;
  /** The suggestion (its id) the correction started from, if any. */
  readonly suggestionId?: string | null;
}

type HeldStore = Pick<Storage, "getItem" | "setItem">;

function tabStorage(): HeldStore | null {
  try {
    return typeof sessionStorage === "undefined" ? null : sessionStorage;
  } catch {
    return null;
  }
}

/**
 * The reviewer's queue in the browser. Candidates come one at a time through `POST /api/sft/next`,
 * which leases each to this reviewer so that reviewers working the same queue never get the same
 * one; a decision ends the lease. The session keeps the candidates it holds oldest first, the
 * decisions made here (never shown again), the undo stack and the counts. The ids it holds are
 * kept in the tab's storage: a refresh gives them back to the queue before asking for more, so
 * they come back in their place instead of waiting for their leases to expire.
 */
export function createReviewSession(api: ReviewApi, storage: HeldStore | null = tabStorage()) {
  const state = reactive({
    items: [] as Candidate[],
    /** Candidates waiting, as the server counts them (moved locally by each decision and undo). */
    remaining: null as number | null,
    /** `remaining` is a lower bound: the filtered queue was counted up to `MAX_COUNTED`. */
    remainingAtLeast: false,
    /** What the queue is narrowed to; `next` and the count follow it. */
    filters: {} as QueueFilters,
    /** `next` answered that nothing is left; "Check again" asks anew. */
    exhausted: false,
    loading: false,
    loaded: false,
    loadError: null as string | null,
    busy: false,
    undoStack: [] as UndoEntry[],
    stats: null as ReviewStats | null,
    statsError: null as string | null,
    notice: null as Notice | null,
  });
  /** Ids decided while this page is open (by anyone, as far as we learnt) and not undone. */
  const decided = new Set<string>();
  let seq = 0;
  let loadToken = 0;

  const notify = (kind: Notice["kind"], text: string, undoable = false) => {
    state.notice = { kind, text, undoable, seq: ++seq };
  };

  /** Candidates skipped here, most recent last: `next` passes over them, others may take them. */
  const skipped: string[] = [];
  /** The ids this tab holds a lease on, as stored for the next load of the page. */
  const held = new Set<string>(readHeld());

  function readHeld(): string[] {
    try {
      const ids = JSON.parse(storage?.getItem(HELD_KEY) ?? "[]");
      return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string") : [];
    } catch {
      return [];
    }
  }

  function saveHeld() {
    try {
      storage?.setItem(HELD_KEY, JSON.stringify([...held]));
    } catch {}
  }

  const hold = (id: string) => {
    held.add(id);
    saveHeld();
  };
  const letGo = (id: string) => {
    if (held.delete(id)) saveHeld();
  };

  /** Gives back every candidate this tab holds (a refresh, or a fresh start); failures are left to expire. */
  async function releaseHeld(): Promise<void> {
    const ids = [...held];
    await Promise.all(ids.map((id) => api.release(id).catch(() => undefined)));
    for (const id of ids) held.delete(id);
    saveHeld();
  }

  /** The queue from its start: what this tab held goes back, then the oldest candidates are claimed. */
  async function load(): Promise<void> {
    const token = ++loadToken;
    state.loading = true;
    state.loadError = null;
    try {
      await releaseHeld();
      const stats = await api.stats();
      if (token !== loadToken) return;
      state.stats = stats;
      state.statsError = null;
      const filters = state.filters;
      const counted = Object.keys(filters).length === 0 ? null : await countQueue(filters);
      if (token !== loadToken) return;
      state.remaining = counted ? counted.count : (stats.by_status.needs_review ?? null);
      state.remainingAtLeast = counted?.atLeast ?? false;
      state.items = [];
      state.exhausted = false;
      await topUp(token);
      if (token === loadToken) state.loaded = true;
    } catch (error) {
      if (token === loadToken) state.loadError = describeError(error);
    } finally {
      if (token === loadToken) state.loading = false;
    }
  }

  /** Claims candidates through `next` until this tab holds `AHEAD` (bounded: a few calls at a time). */
  async function topUp(token = loadToken): Promise<void> {
    for (let calls = 0; calls < 5 && !state.exhausted && state.items.length < AHEAD; calls++) {
      const filtered = Object.keys(state.filters).length > 0;
      const { candidate } = await (filtered ? api.next(skipped, state.filters) : api.next(skipped));
      if (candidate) hold(candidate.id);
      if (token !== loadToken) return;
      if (!candidate) {
        state.exhausted = true;
        return;
      }
      if (decided.has(candidate.id) || state.items.some((item) => item.id === candidate.id)) continue;
      state.items.push(candidate);
    }
  }

  /**
   * The size of the filtered queue: the API's own total where a counter gives it (one model, task
   * type or source), else counted page by page up to `MAX_COUNTED`.
   */
  async function countQueue(filters: QueueFilters): Promise<{ count: number; atLeast: boolean }> {
    const first = await api.queue({ perPage: 1, filters });
    if (first.total !== null && first.total !== undefined) return { count: first.total, atLeast: false };
    let count = 0;
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof api.queue>> = await api.queue({ perPage: 100, cursor, filters });
      count += page.items.length;
      cursor = page.next_cursor;
    } while (cursor && count < MAX_COUNTED);
    return { count, atLeast: cursor !== null };
  }

  /**
   * Narrows the queue (a model, task type, run or source); answers whether anything changed. The
   * caller reloads: what this tab holds goes back, and `next` claims within the new filters.
   */
  function setFilters(filters: Readonly<Record<string, string | undefined>>): boolean {
    const next = cleanFilters(filters);
    if (sameFilters(next, state.filters)) return false;
    state.filters = next;
    skipped.length = 0;
    return true;
  }

  /** After a decision: claim the next candidate. */
  async function refill(): Promise<void> {
    try {
      await topUp();
    } catch (error) {
      state.loadError = describeError(error);
    }
  }

  async function refreshStats(): Promise<void> {
    try {
      state.stats = await api.stats();
      state.statsError = null;
    } catch (error) {
      state.statsError = describeError(error);
    }
  }

  /** The candidate left this tab: decided here or elsewhere, its lease (if any) over. */
  function drop(id: string) {
    decided.add(id);
    letGo(id);
    state.items = state.items.filter((item) => item.id !== id);
  }

  async function decide(candidate: Candidate, decision: Decision): Promise<DecisionOutcome> {
    if (state.busy) return { ok: false, moved: false, message: "Still saving the previous decision" };
    state.busy = true;
    let review: "decided" | "awaiting_votes" | "adjudication" | undefined;
    try {
      const reply = await api.submit({
        id: candidate.id,
        action: decision.action,
        failure_category: decision.category,
        ...(decision.action === "correct" ? { corrected_response: decision.correction ?? "" } : {}),
        ...(decision.action === "correct" && decision.suggestionId
          ? { suggestion_id: decision.suggestionId }
          : {}),
      });
      review = reply?.review?.state;
    } catch (error) {
      state.busy = false;
      if (error instanceof ApiError && (error.status === 409 || error.status === 404)) {
        const message =
          error.status === 409
            ? "Someone else already decided this candidate (or holds it now), so it left your queue. On to the next one."
            : "This candidate no longer exists. On to the next one.";
        drop(candidate.id);
        if (state.remaining !== null) state.remaining = Math.max(0, state.remaining - 1);
        notify("conflict", message);
        void refreshStats();
        void refill();
        return { ok: false, moved: true, message };
      }
      return { ok: false, moved: false, message: describeError(error) };
    }
    drop(candidate.id);
    state.undoStack.push({ candidate, action: decision.action });
    if (state.undoStack.length > MAX_UNDO) state.undoStack.shift();
    if (state.remaining !== null) state.remaining = Math.max(0, state.remaining - 1);
    // Under double review a decision is a vote: say what happens to the candidate next.
    const next =
      review === "awaiting_votes"
        ? ": your vote waits for another reviewer's"
        : review === "adjudication"
          ? ": the reviewers disagree, so an admin decides"
          : "";
    notify("done", `${ACTION_PAST[decision.action]} ${candidate.id}${next}`, true);
    state.busy = false;
    void refreshStats();
    void refill();
    return { ok: true };
  }

  /**
   * Passes on a candidate: its lease is released, so it waits in the queue in its place for
   * another reviewer, and this tab is not handed it again.
   */
  async function skip(candidate: Candidate): Promise<boolean> {
    if (state.busy) return false;
    state.busy = true;
    try {
      await api.release(candidate.id);
    } catch (error) {
      // 409/404: no longer ours (its lease expired and someone took it, or it is gone): skip all the same.
      if (!(error instanceof ApiError && (error.status === 409 || error.status === 404))) {
        notify("error", `Could not skip: ${describeError(error)}`);
        return false;
      }
    } finally {
      state.busy = false;
    }
    letGo(candidate.id);
    skipped.push(candidate.id);
    if (skipped.length > MAX_SKIPPED) skipped.shift();
    state.items = state.items.filter((item) => item.id !== candidate.id);
    notify("done", `Skipped ${candidate.id}: it waits for another reviewer`);
    void refill();
    return true;
  }

  /** Takes back the latest decision made here; the candidate comes back at the front. */
  async function undo(): Promise<boolean> {
    const entry = state.undoStack.at(-1);
    if (!entry || state.busy) return false;
    state.busy = true;
    try {
      await api.undo(entry.candidate.id);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 409 || error.status === 404)) {
        state.undoStack.pop();
        notify("conflict", `Could not undo ${entry.candidate.id}: ${error.message}`);
      } else {
        notify("error", `Could not undo: ${describeError(error)}`);
      }
      return false;
    } finally {
      state.busy = false;
    }
    state.undoStack.pop();
    decided.delete(entry.candidate.id);
    state.items = [
      { ...entry.candidate, status: "needs_review" },
      ...state.items.filter((item) => item.id !== entry.candidate.id),
    ];
    if (state.remaining !== null) state.remaining += 1;
    notify("done", `${ACTION_PAST.undo}: ${entry.candidate.id} is back in the queue`);
    void refreshStats();
    return true;
  }

  return {
    state,
    load,
    setFilters,
    refreshStats,
    decide,
    skip,
    undo,
    dismissNotice: () => {
      state.notice = null;
    },
    notify,
  };
}

export type ReviewSession = ReturnType<typeof createReviewSession>;
