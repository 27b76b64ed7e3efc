import { afterEach, describe, expect, it, vi } from "vitest";
import {
  countMetric,
  EmfMetrics,
  METRICS_NAMESPACE,
  metricsFromEnvironment,
  NoMetrics,
  PrintedMetrics,
  RecordingMetrics,
  timeMetric,
} from "../../../lib/common/metrics.ts";
import { observedHandler } from "../../../lib/common/observed.ts";
import { lambdaContext } from "../../support/events.ts";

const REASONS = ["blank_line", "invalid_json"] as const;
const quarantined = countMetric("LinesQuarantined", "import", { name: "reason", values: REASONS });
const imported = countMetric("CandidatesImported", "import");
const latency = timeMetric("JudgeLatency", "eval");

/** The EMF documents written to stdout while `work` runs. */
function emfDocuments(work: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    work();
  } finally {
    spy.mockRestore();
  }
  return lines
    .join("")
    .split("\n")
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

afterEach(() => vi.restoreAllMocks());

describe("the metrics port", () => {
  it("records a count in its total and under its dimension value", () => {
    const metrics = new RecordingMetrics();
    metrics.count(quarantined, 2, "invalid_json");
    metrics.count(quarantined, 1, "blank_line");
    metrics.count(imported, 5);
    expect(metrics.total(quarantined)).toBe(3);
    expect(metrics.total(quarantined, "invalid_json")).toBe(2);
    expect(metrics.total(imported)).toBe(5);
  });

  it("keeps dimensions bounded: a value outside the metric's closed list is counted as other", () => {
    const metrics = new RecordingMetrics();
    metrics.count(quarantined, 1, "run-2026-11-01-gpt-4o" as never);
    expect(metrics.total(quarantined, "other")).toBe(1);
    expect(metrics.points.flatMap((point) => Object.values(point.dimensions))).not.toContain(
      "run-2026-11-01-gpt-4o",
    );
  });

  it("writes CloudWatch EMF through Powertools: one document per dimension set, counts summed", () => {
    const metrics = new EmfMetrics(METRICS_NAMESPACE, "flywheel");
    metrics.count(imported, 3);
    metrics.count(imported, 4);
    metrics.count(quarantined, 2, "invalid_json");
    metrics.time(latency, 120.4);
    metrics.time(latency, 80);
    const documents = emfDocuments(() => metrics.flush());

    const byDimensions = (keys: string[]) =>
      documents.find((doc) => {
        const aws = doc._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] };
        return (
          JSON.stringify(aws.CloudWatchMetrics[0]?.Dimensions[0]?.slice().sort()) === JSON.stringify(keys)
        );
      });
    const totals = documents.filter((doc) => doc.capability === "import" && doc.reason === undefined);
    expect(totals).toHaveLength(1);
    expect(totals[0]).toMatchObject({ service: "flywheel", CandidatesImported: 7, LinesQuarantined: 2 });
    expect(byDimensions(["capability", "reason", "service"])).toMatchObject({
      reason: "invalid_json",
      LinesQuarantined: 2,
    });
    const timings = documents.find((doc) => doc.capability === "eval");
    expect(timings).toMatchObject({ JudgeLatency: [120, 80] });
    const aws = timings?._aws as { CloudWatchMetrics: { Namespace: string; Metrics: unknown[] }[] };
    expect(aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: "Flywheel",
      Metrics: [{ Name: "JudgeLatency", Unit: "Milliseconds" }],
    });
    // Flushed: the next flush has nothing to write.
    expect(emfDocuments(() => metrics.flush())).toEqual([]);
  });

  it("is chosen by the environment: EMF with a namespace, nothing locally unless asked, a line when printing", () => {
    expect(metricsFromEnvironment({ POWERTOOLS_METRICS_NAMESPACE: "Flywheel" })).toBeInstanceOf(EmfMetrics);
    expect(metricsFromEnvironment({})).toBeInstanceOf(NoMetrics);
    expect(metricsFromEnvironment({ FLYWHEEL_METRICS: "print" })).toBeInstanceOf(PrintedMetrics);
    expect(
      metricsFromEnvironment({ POWERTOOLS_METRICS_NAMESPACE: "Flywheel", FLYWHEEL_METRICS: "off" }),
    ).toBeInstanceOf(NoMetrics);

    const lines: string[] = [];
    const printed = new PrintedMetrics((line) => lines.push(line));
    printed.count(quarantined, 2, "invalid_json");
    printed.count(imported, 3);
    printed.flush();
    expect(lines).toEqual(["metrics LinesQuarantined{reason=invalid_json}=2 CandidatesImported=3\n"]);
  });

  it("is flushed at the end of every invocation of an observed handler, a failed one too", async () => {
    const metrics = new RecordingMetrics();
    const handler = observedHandler(async (fail: boolean) => {
      metrics.count(imported, 1);
      if (fail) throw new Error("boom");
      return "ok";
    }, metrics);
    await expect(handler(false, lambdaContext())).resolves.toBe("ok");
    expect(metrics.flushedPoints).toBe(1);
    await expect(handler(true, lambdaContext())).rejects.toThrow("boom");
    expect(metrics.flushedPoints).toBe(2);
  });
});
