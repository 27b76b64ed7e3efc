/**
 * One recount, in a process of its own so its peak memory is the recount's alone: runs the
 * recount use case (report only) against TABLE_NAME over `segments` segments, writes its report
 * to `reportFile` and prints a JSON line with what it measured.
 */
import { writeFileSync } from "node:fs";
import { recountCounters } from "../lib/admin/usecases/recount.ts";
import { recountDeps } from "../lib/admin/wiring.ts";
import { createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { BaseConfig, loadConfig } from "../lib/common/config.ts";
import { measureHandler } from "./worker.ts";

const [segments, reportFile] = process.argv.slice(2) as [string, string];
const config = loadConfig(BaseConfig);
const { dynamodb } = createAwsClients(config);
await measureHandler(async () => {
  const report = await recountCounters(recountDeps(dynamodb, config.TABLE_NAME), {
    repair: false,
    segments: Number(segments),
  });
  writeFileSync(reportFile, JSON.stringify(report));
  return { batchItemFailures: [] };
});
