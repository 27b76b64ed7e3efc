// @vitest-environment happy-dom
import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import StatsFooter from "../../web/src/components/StatsFooter.vue";
import type { ReviewStats } from "../../web/src/types.ts";

const stats = (extra: Partial<ReviewStats> = {}): ReviewStats => ({
  total: 9,
  by_status: { needs_review: 6, approved: 1, discarded: 1, model_rejected: 1 },
  export_ready: 1,
  ...extra,
});

const totals = (wrapper: ReturnType<typeof mount>) =>
  wrapper.findAll("dl div").map((row) => [row.get("dt").text(), row.get("dd").text()]);

describe("StatsFooter", () => {
  it("shows the decided totals, and what waits under double review only when something does", () => {
    const plain = mount(StatsFooter, {
      props: { stats: stats({ awaiting_votes: 0, awaiting_adjudication: 0 }) },
    });
    expect(totals(plain)).toEqual([
      ["Approved", "1"],
      ["Discarded", "1"],
      ["Flagged", "1"],
      ["Export ready", "1"],
    ]);
    // An API that does not send the double-review counts shows the same.
    expect(totals(mount(StatsFooter, { props: { stats: stats() } }))).toEqual(totals(plain));

    const waiting = mount(StatsFooter, {
      props: { stats: stats({ awaiting_votes: 2, awaiting_adjudication: 1 }) },
    });
    expect(totals(waiting).slice(4)).toEqual([
      ["Awaiting another vote", "2"],
      ["Awaiting adjudication", "1"],
    ]);
    expect(waiting.get('[data-testid="stat-awaiting-votes"] dd').text()).toBe("2");
  });
});
