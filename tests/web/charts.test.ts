// @vitest-environment happy-dom
import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import BarLineChart from "../../web/src/components/charts/BarLineChart.vue";
import { describeChart, fromCounts } from "../../web/src/components/charts/chart-data.ts";
import { settle } from "./fixtures.ts";

describe("chart data", () => {
  it("turns counts into one series, largest first, ties by name, the tail summed as other", () => {
    expect(fromCounts({ b: 2, a: 2, c: 9, d: 1, e: 1 }, "records", 3)).toEqual({
      labels: ["c", "a", "b", "other"],
      series: [{ name: "records", values: [9, 2, 2, 2] }],
    });
    expect(fromCounts(null, "records")).toEqual({ labels: [], series: [{ name: "records", values: [] }] });
  });

  it("says what a chart shows in one sentence, naming each series when there are several", () => {
    const data = {
      labels: ["W1", "W2"],
      series: [
        { name: "accuracy", values: [3.5, null] },
        { name: "tone", values: [4, 4.25] },
      ],
    };
    expect(describeChart("Weekly scores", data)).toBe(
      "Weekly scores. accuracy: W1 3.5; tone: W1 4, W2 4.25.",
    );
    expect(describeChart("Reasons", fromCounts({ a: 1 }, "n"))).toBe("Reasons. a 1.");
    expect(describeChart("Reasons", { labels: [], series: [] })).toBe("Reasons: no data.");
  });
});

describe("BarLineChart", () => {
  it("without a canvas to draw on, shows its numbers in an open table under its title", async () => {
    const chart = mount(BarLineChart, {
      props: {
        kind: "bar",
        title: "Kept out, by reason",
        data: fromCounts({ empty_content: 2, trainer_rule: 5 }, "records"),
      },
    });
    await settle();
    expect(chart.get("figcaption").text()).toBe("Kept out, by reason");
    expect(chart.get("details").attributes("open")).toBeDefined();
    const cells = chart.findAll("tbody tr").map((row) => row.findAll("th, td").map((cell) => cell.text()));
    expect(cells).toEqual([
      ["trainer_rule", "5"],
      ["empty_content", "2"],
    ]);
    expect(chart.get("caption").text()).toBe("Kept out, by reason");
  });

  it("says so when there is nothing to show", () => {
    const chart = mount(BarLineChart, {
      props: { kind: "line", title: "Trend", data: { labels: [], series: [] } },
    });
    expect(chart.text()).toContain("Nothing to show.");
    expect(chart.find("canvas").exists()).toBe(false);
  });
});
