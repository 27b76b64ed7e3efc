import { describe, expect, it } from "vitest";
import { randomId } from "../../../local/lambda-context.ts";

describe("local ids cut from a random pool", () => {
  it("gives each caller bytes of its own, across refills of the pool", () => {
    const seen = new Set<string>();
    // 20,000 × 10 bytes: the 4 KiB pool is refilled about 50 times.
    for (let i = 0; i < 20_000; i++) {
      const id = randomId(10);
      expect(id.length).toBe(10);
      seen.add(id.toString("hex"));
    }
    expect(seen.size).toBe(20_000);
  });

  it("serves a request larger than the pool", () => {
    const big = randomId(10_000);
    expect(big.length).toBe(10_000);
    expect(new Set(big).size).toBeGreaterThan(200);
  });
});
