import { describe, expect, it } from "vitest";
import {
  containerBill,
  HOURS_PER_MONTH,
  modelCost,
  PRICES,
  type Profile,
  renderCostSection,
  requestUnits,
  serverlessBill,
  WORKLOAD,
} from "../../../bench/cost.ts";

const figure = (value: number) => ({ name: "x", value, unit: "", basis: "derived" as const, how: "" });

/** A profile with round numbers: 2.5 KB candidates, 1.2 KB corrections and counter shards. */
const profile: Profile = {
  candidateItemKb: figure(2.5),
  runBytesPerLine: figure(2_000),
  importMsPerCandidate: figure(10),
  importWriteUnitsMeasured: null,
  correctionItemKb: figure(1.2),
  counterShardKb: figure(1.2),
  eventItemKb: figure(0.3),
  ingestMsPerMessage: figure(20),
  apiMs: { submit: figure(50), undo: figure(50), queue: figure(60), stats: figure(15) },
  exportLineBytes: figure(1_500),
  exportIndexLineBytes: figure(100),
  exportRecordsPerSecond: figure(2_000),
};

describe("the cost model", () => {
  it("bills DynamoDB units as the adapters' calls consume them", () => {
    const ru = requestUnits(profile);
    // Transactional put of a 3 KB item (2 × 3) and two index copies (3 each), one counter shard per 99.
    expect(ru.importWrite).toBeCloseTo(6 + 6 + (2 * 2) / 99, 6);
    // A new run makes no lookup: the conditional puts report stored ids.
    expect(ru.importRead).toBe(0);
    // Conditional put of a 2 KB record (2 × 2), its status-index copy (2), one counter shard (2 × 2).
    expect(ru.ingestWrite).toBe(4 + 2 + 4);
    // Update (2 × 3), event (2 × 1), counter shard (2 × 2), status copy moved (2 × 3), run copy (3).
    expect(ru.decisionWrite).toBe(6 + 2 + 4 + 6 + 3);
    expect(ru.statsRead).toBe(8);
    expect(ru.exportRead).toBeCloseTo((2.5 / 4) * 0.5, 6);
  });

  it("prices the always-on container at its hourly rates for a whole month", () => {
    const bill = containerBill(WORKLOAD, serverlessBill(profile, WORKLOAD));
    const hourly = (key: keyof typeof PRICES, quantity: number) =>
      PRICES[key].usd * quantity * HOURS_PER_MONTH;
    const fixed = bill.filter((line) => line.area === "container" && !line.what.includes("(GB)"));
    const fixedUsd = fixed.reduce((sum, line) => sum + line.usd, 0);
    expect(fixedUsd).toBeCloseTo(
      hourly("fargateArmVcpuHours", 2) +
        hourly("fargateArmGbHours", 4) +
        hourly("rdsT4gSmallHours", 1) +
        hourly("albHours", 1) +
        hourly("albLcuHours", 1) +
        hourly("publicIpv4Hours", 3) +
        PRICES.secretsManagerSecrets.usd,
      6,
    );
  });

  it("runs without any benchmark result, saying which figures were not measured", () => {
    const cost = modelCost({});
    const figures = [
      cost.profile.candidateItemKb,
      cost.profile.importMsPerCandidate,
      cost.profile.apiMs.submit,
    ];
    expect(figures.map((f) => f.basis)).toEqual(["derived", "assumed", "assumed"]);
    expect(cost.serverlessUsd).toBeGreaterThan(0);
    expect(cost.growth.map((g) => g.factor)).toEqual([0.1, 1, 10, 100]);
    const page = renderCostSection({ ...cost, measuredAt: "now", command: "npm run bench -- --only cost" });
    expect(page[0]).toBe("## Cost model");
    expect(page.join("\n")).toContain("`dynamodbWriteRequestUnits`");
  });
});
