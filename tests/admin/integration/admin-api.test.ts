import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { adminCommand } from "../../../cli/admin.ts";
import { UsageError } from "../../../cli/target.ts";
import { API_CONTRACT } from "../../../lib/api/contract.ts";
import { CandidateTable } from "../../../lib/common/adapters/candidate-table.ts";
import { keys } from "../../../lib/common/adapters/table-keys.ts";
import { type CounterDelta, countersOf, mergeDeltas } from "../../../lib/common/domain/stats.ts";
import { type HttpApiServer, startHttpApi } from "../../../local/http-api.ts";
import { variedCandidates } from "../../support/admin-fixtures.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";
import { storedCounters } from "../../support/steps.ts";

const TOKEN = "reviewer-token-for-admin-tests";
const CANDIDATES = variedCandidates(60, "admin");

let aws: TestAws;
let api: ApiHandler;
let server: HttpApiServer;
const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, lambdaContext("api"), method, path, { token: TOKEN, ...request });
const nonZero = (delta: CounterDelta) => Object.fromEntries(Object.entries(delta).filter(([, v]) => v !== 0));
const truth = () => nonZero(mergeDeltas(CANDIDATES.map(countersOf)));

/** Adds `value` to counter `name` on one shard by hand, as a console edit would. */
async function corrupt(name: string, value: number, shard = 1) {
  await aws.clients.dynamodb.send(
    new UpdateCommand({
      TableName: aws.resources.tableName,
      Key: keys.counterShard(shard),
      UpdateExpression: "ADD #c :n",
      ExpressionAttributeNames: { "#c": name },
      ExpressionAttributeValues: { ":n": value },
    }),
  );
}

beforeAll(async () => {
  aws = await provisionTestAws("admin");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  ({ handler: api } = await import("../../../functions/api.ts"));
  server = await startHttpApi({ port: 0, handler: api, region: "us-east-1" });
  const table = new CandidateTable(aws.clients.dynamodb, aws.resources.tableName, {
    putCandidateBody: async () => {
      throw new Error("no candidate here is too large for an item");
    },
  });
  expect((await table.insertNew(CANDIDATES)).inserted).toHaveLength(CANDIDATES.length);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

beforeEach(async () => {
  expect(nonZero(await storedCounters(aws))).toEqual(truth());
});

describe("POST /api/admin/recount", () => {
  it("is behind the reviewer token like every other reviewer route", async () => {
    expect((await call("POST", "/api/admin/recount", { token: undefined, body: {} })).status).toBe(401);
    expect((await call("GET", "/api/admin/recount")).status).not.toBe(200);
  });

  it("reports a corrupted counter without changing it, then repairs it when asked", async () => {
    const counted = truth()["status#discarded"] ?? 0;
    await corrupt("status#discarded", -3);

    const report = await call("POST", "/api/admin/recount", { body: {} });
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({
      repair: false,
      segments: 8,
      candidates: CANDIDATES.length,
      unrepaired: 1,
      differences: [
        {
          name: "status#discarded",
          stored: counted - 3,
          counted,
          difference: 3,
          moved_during_recount: false,
          repair: null,
        },
      ],
    });
    expect((await storedCounters(aws))["status#discarded"]).toBe(counted - 3);

    const repaired = await call("POST", "/api/admin/recount", { body: { repair: true, segments: 2 } });
    expect(repaired.status).toBe(200);
    expect(repaired.body).toMatchObject({ repair: true, segments: 2, unrepaired: 0 });
    expect(repaired.body.differences).toEqual([
      expect.objectContaining({ name: "status#discarded", difference: 3, repair: "repaired" }),
    ]);
    // Both reports, with a difference each, are what the API's contract says (the CLI's type).
    const schema = API_CONTRACT["POST /api/admin/recount"].responses[200];
    expect(schema.safeParse(report.body).success).toBe(true);
    expect(schema.safeParse(repaired.body).success).toBe(true);
    expect(schema.safeParse({ ...repaired.body, differences: [{ name: "x" }] }).success).toBe(false);
    expect(nonZero(await storedCounters(aws))).toEqual(truth());
  });

  it("keeps the other routes as they were: stats read the repaired counters", async () => {
    const stats = await call("GET", "/api/sft/stats");
    expect(stats.status).toBe(200);
    expect(stats.body.total).toBe(CANDIDATES.length);
  });
});

describe("flywheel admin recount", () => {
  const target = () => ["--api-url", server.url, "--token", TOKEN];

  it("prints the differing counters as a table and exits 1 while they stand; --repair fixes them and exits 0", async () => {
    const counted = truth()["model#model-c"] ?? 0;
    await corrupt("model#model-c", 5, 4);

    const printed: string[] = [];
    expect(await adminCommand(["recount", ...target()], (line) => printed.push(line), {})).toBe(1);
    expect(printed[0]).toMatch(/^counter\s+stored\s+counted\s+difference\s+repair$/);
    expect(printed[1]).toMatch(new RegExp(`^model#model-c\\s+${counted + 5}\\s+${counted}\\s+-5\\s+-$`));
    expect(printed.join("\n")).toMatch(/1 of \d+ counters differ; run with --repair/);
    expect(printed.join("\n")).toMatch(new RegExp(`\\(${CANDIDATES.length} candidates\\) in 8 segments`));
    expect(printed.join("\n")).toMatch(/^note: /m);
    expect((await storedCounters(aws))["model#model-c"]).toBe(counted + 5);

    const repairing: string[] = [];
    const code = await adminCommand(
      ["recount", "--repair", "--segments", "3", ...target()],
      (line) => repairing.push(line),
      {},
    );
    expect(code).toBe(0);
    expect(repairing[1]).toMatch(/^model#model-c\s+\d+\s+\d+\s+-5\s+repaired$/);
    expect(repairing.join("\n")).toMatch(/1 of \d+ counters differ: 1 repaired, 0 not repaired/);
    expect(repairing.join("\n")).toMatch(/in 3 segments/);
    expect(nonZero(await storedCounters(aws))).toEqual(truth());

    const after: string[] = [];
    expect(await adminCommand(["recount", ...target()], (line) => after.push(line), {})).toBe(0);
    expect(after[0]).toMatch(
      new RegExp(`^no differences: \\d+ counters agree with ${CANDIDATES.length} candidates$`),
    );
  });

  it("--direct --table recounts in this process, against the table named, and prints JSON with --json", async () => {
    await corrupt("total", 1, 7);
    const env = {
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL_DYNAMODB: aws.env.AWS_ENDPOINT_URL_DYNAMODB,
    };
    const printed: string[] = [];
    const args = ["recount", "--direct", "--table", aws.resources.tableName, "--json"];
    expect(await adminCommand(args, (line) => printed.push(line), env)).toBe(1);
    const report = JSON.parse(printed.join("\n"));
    expect(report.differences).toEqual([
      {
        name: "total",
        stored: CANDIDATES.length + 1,
        counted: CANDIDATES.length,
        difference: -1,
        moved_during_recount: false,
        repair: null,
      },
    ]);

    expect(await adminCommand([...args, "--repair"], () => {}, env)).toBe(0);
    expect(nonZero(await storedCounters(aws))).toEqual(truth());
  });

  it.each([
    [["recount", "--segments", "0"], /--segments/],
    [["recount", "--segments", "many"], /--segments/],
    [["recount", "extra"], /no arguments/],
    [["recount", "--direct", "--api-url", "http://127.0.0.1:1"], /--direct/],
    [["rebuild"], /unknown command: admin rebuild/],
  ])("refuses %j as a usage error", async (args, message) => {
    await expect(adminCommand(args, () => {}, {})).rejects.toThrow(UsageError);
    await expect(adminCommand(args, () => {}, {})).rejects.toThrow(message);
  });
});
