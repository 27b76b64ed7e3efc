import { beforeAll, describe, expect, it } from "vitest";
import { freshIngestApi } from "../../support/api-module.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";
import { storedCandidate } from "../../support/steps.ts";

/**
 * Avocet's ingest clients, replayed against Flywheel: products that post `POST /api/sft/ingest`
 * with the one shared secret Avocet read from `AVOCET_INGESTION_SECRET`. Here that secret is the
 * opt-in `_legacy` entry beside the per-source tokens, allowed for `peregrine` only. The requests
 * and the answers checked are those of Avocet's own ingest tests.
 */

const SECRET = "test-secret-abc123";
const KIWI_TOKEN = "kiwi-token-0123456789abcdef";
const PATH = "/api/sft/ingest";
/** Avocet's test payload, field for field. */
const VALID_PAYLOAD = {
  source: "peregrine",
  task_type: "email_classification",
  prompt: "Classify this email: ...",
  response: "skip",
  correction: "action_required",
  label: "action_required",
};

let aws: TestAws;
let handler: ApiHandler;
const context = lambdaContext("api");
const ingest = (request: HttpRequest, api: ApiHandler = handler) =>
  callApi(api, context, "POST", PATH, request);

const loadApi = (env: Record<string, string>) => freshIngestApi(aws.env, env);

beforeAll(async () => {
  aws = await provisionTestAws("compat-ingest");
  handler = await loadApi({
    INGEST_TOKENS: JSON.stringify({ kiwi: KIWI_TOKEN }),
    INGEST_LEGACY_SECRET: SECRET,
    INGEST_LEGACY_SOURCES: JSON.stringify(["peregrine"]),
  });
});

describe("Avocet's ingest clients with the shared secret", () => {
  it("503 when the secret is not configured", async () => {
    const unconfigured = await loadApi({
      INGEST_TOKENS: "",
      INGEST_LEGACY_SECRET: "",
      INGEST_LEGACY_SOURCES: "",
    });
    const reply = await ingest({ token: SECRET, body: VALID_PAYLOAD }, unconfigured);
    expect(reply.status).toBe(503);
  });

  it("503 when the secret is set but allowed for no source (the secret is opt-in)", async () => {
    const off = await loadApi({ INGEST_TOKENS: "", INGEST_LEGACY_SECRET: SECRET, INGEST_LEGACY_SOURCES: "" });
    expect((await ingest({ token: SECRET, body: VALID_PAYLOAD }, off)).status).toBe(503);
  });

  it("401 without an Authorization header, and with a malformed one", async () => {
    expect((await ingest({ body: VALID_PAYLOAD })).status).toBe(401);
    expect(
      (await ingest({ headers: { authorization: "Token bad-format" }, body: VALID_PAYLOAD })).status,
    ).toBe(401);
  });

  it("403 for a wrong secret", async () => {
    expect((await ingest({ token: "wrong-secret", body: VALID_PAYLOAD })).status).toBe(403);
  });

  it("200 {ok: true, id} and an approved record with the correction, as Avocet answered", async () => {
    const reply = await ingest({ token: SECRET, body: VALID_PAYLOAD });

    expect(reply.status).toBe(200);
    expect(reply.body.ok).toBe(true);
    expect(reply.body.id).toEqual(expect.any(String));
    const record = await storedCandidate(aws, reply.body.id);
    expect(record).toMatchObject({
      id: reply.body.id,
      status: "approved",
      source: "peregrine",
      corrected_response: "action_required",
      provenance: { principal: "ingest-legacy-secret:peregrine", channel: "http" },
    });
  });

  it("accepts a payload whose label is null", async () => {
    const reply = await ingest({ token: SECRET, body: { ...VALID_PAYLOAD, label: null } });
    expect(reply.status).toBe(200);
  });

  it("403 for a source the secret is not allowed, and the per-source token keeps its own source", async () => {
    const kiwi = { ...VALID_PAYLOAD, source: "kiwi" };
    expect((await ingest({ token: SECRET, body: kiwi })).status).toBe(403);
    expect((await ingest({ token: KIWI_TOKEN, body: kiwi })).status).toBe(200);
    expect((await ingest({ token: KIWI_TOKEN, body: VALID_PAYLOAD })).status).toBe(403);
  });
});
