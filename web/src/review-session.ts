import { reactive } from "vue";
import { ApiError, describeError, type ReviewApi } from "./api.ts";
import { ACTION_PAST } from "./format.ts";
import type { Candidate, FailureCategory, ReviewAction, ReviewStats } from "./types.ts";

const PAGE_SIZE = 20;
/** Fetch the next page once this few are left, so the next card is always there. */
const LOW_WATER = 5;
const MAX_UNDO = 20;

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
}

/**
 * The reviewer's queue in the browser: a buffer of candidates oldest first, the decisions made
 * here (which a refresh must never bring back, even from an index that has not caught up), the
 * undo stack and the counts.
 */
export function createReviewSession(api: ReviewApi) {
  const state = reactive({
    items: [] as Candidate[],
    /** Candidates waiting, as the server counts them (moved locally by each decision and undo). */
    remaining: null as number | null,
    cursor: null as string | null,
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

  const fresh = (items: readonly Candidate[]) => {
    const known = new Set(state.items.map((item) => item.id));
    return items.filter((item) => !decided.has(item.id) && !known.has(item.id));
  };

  /** The queue from its start: the first page, without anything decided here. */
  async function load(): Promise<void> {
    const token = ++loadToken;
    state.loading = true;
    state.loadError = null;
    try {
      const page = await api.queue({ perPage: PAGE_SIZE });
      if (token !== loadToken) return;
      state.items = [];
      state.items = fresh(page.items);
      state.cursor = page.next_cursor;
      state.remaining = page.total;
      state.loaded = true;
      await topUp(token);
    } catch (error) {
      if (token === loadToken) state.loadError = describeError(error);
    } finally {
      if (token === loadToken) state.loading = false;
    }
  }

  /** Follows the cursor while few candidates are left (bounded: a few pages per call). */
  async function topUp(token = loadToken): Promise<void> {
    for (let pages = 0; pages < 5 && state.cursor && state.items.length < LOW_WATER; pages++) {
      const page = await api.queue({ perPage: PAGE_SIZE, cursor: state.cursor });
      if (token !== loadToken) return;
      state.items.push(...fresh(page.items));
      state.cursor = page.next_cursor;
      if (page.total !== null) state.remaining = page.total;
    }
  }

  /** After a decision: more from the cursor, or the queue again from the start once it ran dry. */
  async function refill(): Promise<void> {
    try {
      if (state.cursor) await topUp();
      else if (state.items.length === 0) await load();
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

  function drop(id: string) {
    decided.add(id);
    state.items = state.items.filter((item) => item.id !== id);
  }

  async function decide(candidate: Candidate, decision: Decision): Promise<DecisionOutcome> {
    if (state.busy) return { ok: false, moved: false, message: "Still saving the previous decision" };
    state.busy = true;
    try {
      await api.submit({
        id: candidate.id,
        action: decision.action,
        failure_category: decision.category,
        ...(decision.action === "correct" ? { corrected_response: decision.correction ?? "" } : {}),
      });
    } catch (error) {
      state.busy = false;
      if (error instanceof ApiError && (error.status === 409 || error.status === 404)) {
        const message =
          error.status === 409
            ? "Someone else already decided this candidate, so it left your queue. On to the next one."
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
    notify("done", `${ACTION_PAST[decision.action]} ${candidate.id}`, true);
    state.busy = false;
    void refreshStats();
    void refill();
    return { ok: true };
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
    refreshStats,
    decide,
    undo,
    dismissNotice: () => {
      state.notice = null;
    },
    notify,
  };
}

export type ReviewSession = ReturnType<typeof createReviewSession>;
