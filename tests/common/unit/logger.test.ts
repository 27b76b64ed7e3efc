import { describe, expect, it } from "vitest";
import {
  appendLogKeys,
  FlywheelLogger,
  prettyLogLine,
  prettyLogsWanted,
  withLogKeys,
} from "../../../lib/common/logger.ts";
import { writtenLines } from "../../support/logs.ts";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the logger", () => {
  it("writes one JSON object per line in Lambda, with the scope's ids and the line's own keys", async () => {
    const logger = new FlywheelLogger({ serviceName: "flywheel", logLevel: "INFO" }, false);
    const lines = await writtenLines(async () => {
      await withLogKeys({ correlation_id: "m-1", message_id: "m-1" }, async () => {
        logger.info("started");
        appendLogKeys({ import_id: "imp-1" });
        await pause(1);
        logger.warn("finished", { correlation_id: "own", counts: { imported: 2 } });
      });
      logger.info("outside");
    });
    const [started, finished, outside] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(started).toMatchObject({
      level: "INFO",
      message: "started",
      service: "flywheel",
      correlation_id: "m-1",
    });
    expect(started?.import_id).toBeUndefined();
    expect(finished).toMatchObject({
      message: "finished",
      correlation_id: "own",
      message_id: "m-1",
      import_id: "imp-1",
      counts: { imported: 2 },
    });
    expect(outside).not.toHaveProperty("correlation_id");
  });

  it("keeps the ids of work running at once apart", async () => {
    const logger = new FlywheelLogger({ serviceName: "flywheel", logLevel: "INFO" }, false);
    const lines = await writtenLines(async () => {
      await Promise.all(
        ["a", "b", "c"].map((id, i) =>
          withLogKeys({ correlation_id: id }, async () => {
            await pause(3 - i);
            appendLogKeys({ export_id: `export-${id}` });
            await pause(i);
            logger.info("step", { step: id });
          }),
        ),
      );
    });
    for (const line of lines.map((text) => JSON.parse(text) as Record<string, string>)) {
      expect(line.correlation_id).toBe(line.step);
      expect(line.export_id).toBe(`export-${line.step}`);
    }
    expect(lines).toHaveLength(3);
  });

  it("prints one readable line outside Lambda, an error's stack indented below it", async () => {
    expect(prettyLogsWanted({})).toBe(true);
    expect(prettyLogsWanted({ AWS_LAMBDA_FUNCTION_NAME: "f" })).toBe(false);
    expect(prettyLogsWanted({ FLYWHEEL_LOG_FORMAT: "json" })).toBe(false);
    expect(prettyLogsWanted({ AWS_LAMBDA_FUNCTION_NAME: "f", FLYWHEEL_LOG_FORMAT: "pretty" })).toBe(true);

    const logger = new FlywheelLogger({ serviceName: "flywheel", logLevel: "INFO" }, true);
    const lines = await writtenLines(async () => {
      await withLogKeys({ correlation_id: "r-9", request_id: "r-9" }, async () => {
        logger.error("request failed", new Error("boom"));
      });
    });
    expect(lines[0]).toMatch(
      /^\d{2}:\d{2}:\d{2}\.\d{3} ERROR request failed {2}correlation_id=r-9 request_id=r-9$/,
    );
    expect(lines[1]).toBe("    Error: boom");
    expect(
      prettyLogLine({ level: "INFO", message: "m", timestamp: "2026-01-01T10:00:00.000Z", n: { a: 1 } }),
    ).toBe('10:00:00.000 INFO  m  n={"a":1}\n');
  });
});
