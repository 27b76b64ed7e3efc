import type { Reply, RequestBody } from "./contract-types.ts";
import type { ApiRequest } from "./quality-api.ts";

/** The double-review policy, the adjudication queue, agreement and reviewer numbers. */
export type ReviewPolicy = Reply<"GET /api/sft/review-policy">;
export type ReviewPolicyBody = RequestBody<"POST /api/sft/review-policy">;
export type AdjudicationPage = Reply<"GET /api/sft/adjudication">;
export type AdjudicationBody = RequestBody<"POST /api/sft/adjudication/:id">;
export type AgreementReport = Reply<"GET /api/sft/stats/agreement">;
export type ReviewerNumbers = Reply<"GET /api/sft/stats/reviewers">;

function window(query: { from?: string | null; to?: string | null }): string {
  const search = new URLSearchParams();
  if (query.from) search.set("from", query.from);
  if (query.to) search.set("to", query.to);
  const text = search.toString();
  return text ? `?${text}` : "";
}

export function createReviewersApi(request: ApiRequest) {
  return {
    policy() {
      return request<ReviewPolicy>("GET", "/api/sft/review-policy");
    },
    setPolicy(body: ReviewPolicyBody) {
      return request<ReviewPolicy>("POST", "/api/sft/review-policy", body);
    },
    adjudication(cursor?: string | null) {
      const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
      return request<AdjudicationPage>("GET", `/api/sft/adjudication${query}`);
    },
    adjudicate(id: string, body: AdjudicationBody) {
      return request<{ ok: true }>("POST", `/api/sft/adjudication/${encodeURIComponent(id)}`, body);
    },
    agreement(query: { from?: string | null; to?: string | null } = {}) {
      return request<AgreementReport>("GET", `/api/sft/stats/agreement${window(query)}`);
    },
    numbers(query: { from?: string | null; to?: string | null } = {}) {
      return request<ReviewerNumbers>("GET", `/api/sft/stats/reviewers${window(query)}`);
    },
  };
}
