import { REVIEW_ACTIONS } from "../../common/domain/vocabulary.ts";
import type { ReviewRound } from "./double-review.ts";
import type { ReviewAction } from "./review.ts";

/**
 * Agreement between reviewers, from the completed rounds of double review. Every pair of votes on
 * one candidate is one paired rating: rater 1 is the reviewer whose id sorts first, so a pair of
 * reviewers always reads the same way round. Per pair and overall:
 *
 * - `percent`: the share of paired ratings that agree as settlement counts agreement (same action,
 *   and for `correct` the same normalised text);
 * - `kappa`: Cohen's κ over the action (`correct`, `discard`, `flag`): (p_o − p_e) / (1 − p_e),
 *   with p_o the observed share of equal actions and p_e the chance agreement from each rater's
 *   marginal shares; `null` when p_e is 1 (both raters only ever gave one and the same action);
 * - `by_category`: for each action, κ of "this action or not" (one against the rest) and the
 *   specific agreement 2·a / (row + column), the share of that action's ratings both gave.
 */

export type Confusion = Record<ReviewAction, Record<ReviewAction, number>>;

export function emptyConfusion(): Confusion {
  const row = () => Object.fromEntries(REVIEW_ACTIONS.map((a) => [a, 0])) as Record<ReviewAction, number>;
  return Object.fromEntries(REVIEW_ACTIONS.map((a) => [a, row()])) as Confusion;
}

const round4 = (value: number) => Math.round(value * 10_000) / 10_000;

/** Cohen's κ of a square table of counts (rows rater 1, columns rater 2); `null` when undefined. */
export function cohensKappa(table: readonly (readonly number[])[]): number | null {
  const n = table.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  if (n === 0) return null;
  const k = table.length;
  let observed = 0;
  let expected = 0;
  for (let i = 0; i < k; i++) {
    observed += table[i]?.[i] ?? 0;
    const row = (table[i] ?? []).reduce((a, b) => a + b, 0);
    const column = table.reduce((sum, r) => sum + (r[i] ?? 0), 0);
    expected += (row / n) * (column / n);
  }
  const po = observed / n;
  if (expected >= 1) return null;
  return (po - expected) / (1 - expected);
}

export interface CategoryAgreement {
  readonly kappa: number | null;
  /** 2·a / (rater 1's count + rater 2's count) of this action; `null` when neither gave it. */
  readonly specific_agreement: number | null;
  readonly rater1: number;
  readonly rater2: number;
  readonly both: number;
}

export interface Agreement {
  /** Paired ratings. */
  readonly n: number;
  readonly agreed: number;
  readonly percent: number | null;
  readonly kappa: number | null;
  readonly by_category: Record<ReviewAction, CategoryAgreement>;
  readonly confusion: Confusion;
}

export function agreementOf(confusion: Confusion, n: number, agreed: number): Agreement {
  const matrix = REVIEW_ACTIONS.map((a) => REVIEW_ACTIONS.map((b) => confusion[a][b]));
  const kappa = cohensKappa(matrix);
  const by_category = Object.fromEntries(
    REVIEW_ACTIONS.map((action, i) => {
      const both = matrix[i]?.[i] ?? 0;
      const rater1 = (matrix[i] ?? []).reduce((a, b) => a + b, 0);
      const rater2 = matrix.reduce((sum, row) => sum + (row[i] ?? 0), 0);
      const total = matrix.flat().reduce((a, b) => a + b, 0);
      // One against the rest: [[both, rater1 − both], [rater2 − both, the rest]].
      const binary = [
        [both, rater1 - both],
        [rater2 - both, total - rater1 - rater2 + both],
      ];
      const k = cohensKappa(binary);
      return [
        action,
        {
          kappa: k === null ? null : round4(k),
          specific_agreement: rater1 + rater2 === 0 ? null : round4((2 * both) / (rater1 + rater2)),
          rater1,
          rater2,
          both,
        },
      ];
    }),
  ) as Record<ReviewAction, CategoryAgreement>;
  return {
    n,
    agreed,
    percent: n === 0 ? null : round4((agreed / n) * 100),
    kappa: kappa === null ? null : round4(kappa),
    by_category,
    confusion,
  };
}

export interface PairAgreement extends Agreement {
  readonly rater1: string;
  readonly rater2: string;
  readonly rater1_name: string | null;
  readonly rater2_name: string | null;
}

export interface AgreementReport {
  /** Rounds read (each a candidate's completed double review). */
  readonly rounds: number;
  /** Rounds whose votes all agreed, and rounds sent to adjudication. */
  readonly settled_by_agreement: number;
  readonly adjudicated: number;
  readonly awaiting_adjudication: number;
  readonly overall: Agreement;
  readonly pairs: readonly PairAgreement[];
}

/** Agreement over `rounds`, overall and per reviewer pair. */
export function agreementReport(rounds: readonly ReviewRound[]): AgreementReport {
  const overall = { confusion: emptyConfusion(), n: 0, agreed: 0 };
  const pairs = new Map<
    string,
    { confusion: Confusion; n: number; agreed: number; r1: string; r2: string }
  >();
  const names = new Map<string, string>();
  let agreedRounds = 0;
  let adjudicated = 0;
  for (const round of rounds) {
    if (round.agreed) agreedRounds++;
    else if (round.adjudication) adjudicated++;
    for (const vote of round.votes) if (vote.reviewer_name) names.set(vote.reviewer, vote.reviewer_name);
    const votes = [...round.votes].sort((a, b) => a.reviewer.localeCompare(b.reviewer));
    for (let i = 0; i < votes.length; i++) {
      for (let j = i + 1; j < votes.length; j++) {
        const a = votes[i];
        const b = votes[j];
        if (!a || !b) continue;
        const agree = a.action === b.action && (a.action !== "correct" || a.text_key === b.text_key);
        const key = JSON.stringify([a.reviewer, b.reviewer]);
        const pair = pairs.get(key) ?? {
          confusion: emptyConfusion(),
          n: 0,
          agreed: 0,
          r1: a.reviewer,
          r2: b.reviewer,
        };
        pairs.set(key, pair);
        for (const tally of [overall, pair]) {
          tally.confusion[a.action][b.action]++;
          tally.n++;
          if (agree) tally.agreed++;
        }
      }
    }
  }
  return {
    rounds: rounds.length,
    settled_by_agreement: agreedRounds,
    adjudicated,
    awaiting_adjudication: rounds.length - agreedRounds - adjudicated,
    overall: agreementOf(overall.confusion, overall.n, overall.agreed),
    pairs: [...pairs.values()]
      .map((pair) => ({
        rater1: pair.r1,
        rater2: pair.r2,
        rater1_name: names.get(pair.r1) ?? null,
        rater2_name: names.get(pair.r2) ?? null,
        ...agreementOf(pair.confusion, pair.n, pair.agreed),
      }))
      .sort((a, b) => b.n - a.n || a.rater1.localeCompare(b.rater1) || a.rater2.localeCompare(b.rater2)),
  };
}
