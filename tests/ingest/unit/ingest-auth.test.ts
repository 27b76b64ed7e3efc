import { createSign, generateKeyPairSync, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ForbiddenError, NotConfiguredError, UnauthorizedError } from "../../../lib/common/domain/errors.ts";
import { CognitoIngestJwt } from "../../../lib/ingest/adapters/ingest-jwt.ts";
import {
  authenticateIngest,
  type IngestClients,
  mayIngestFor,
} from "../../../lib/ingest/edge/ingest-auth.ts";

const tokens = { kiwi: "kiwi-token-0123456789abcdef", peregrine: "peregrine-token-0123456789ab" };

describe("authenticateIngest with per-source tokens", () => {
  it("answers 503 when no token is configured, even without a header", async () => {
    await expect(authenticateIngest(null, {})).rejects.toThrow(NotConfiguredError);
    await expect(authenticateIngest(`Bearer ${tokens.kiwi}`, {})).rejects.toThrow(NotConfiguredError);
  });

  it.each([null, "", "Bearer", "Bearer ", `Basic ${tokens.kiwi}`, `Token ${tokens.kiwi}`, `Bearer a b`])(
    "answers 401 for the header %j",
    async (header) => {
      await expect(authenticateIngest(header, tokens)).rejects.toThrow(UnauthorizedError);
    },
  );

  it.each(["wrong", `${tokens.kiwi}x`, tokens.kiwi.slice(0, -1), tokens.kiwi.toUpperCase()])(
    "answers 403 for the token %s",
    async (token) => {
      await expect(authenticateIngest(`Bearer ${token}`, tokens)).rejects.toThrow(ForbiddenError);
    },
  );

  it("binds each token to its own source, whatever the case of the scheme", async () => {
    expect(await authenticateIngest(`bearer ${tokens.kiwi}`, tokens)).toEqual({
      source: "kiwi",
      principal: "ingest-token:kiwi",
    });
    expect((await authenticateIngest(`BEARER  ${tokens.peregrine} `, tokens)).source).toBe("peregrine");
  });
});

describe("authenticateIngest with Avocet's shared secret", () => {
  const legacy = "avocet-shared-secret-0123456789";

  it("is off unless sources are allowed: the secret alone authenticates nothing, and is no source", async () => {
    await expect(authenticateIngest(`Bearer ${legacy}`, { _legacy: legacy })).rejects.toThrow(
      NotConfiguredError,
    );
    await expect(authenticateIngest(`Bearer ${legacy}`, { ...tokens, _legacy: legacy })).rejects.toThrow(
      ForbiddenError,
    );
  });

  it("ingests for the allowed sources only, beside the per-source tokens", async () => {
    const caller = await authenticateIngest(`Bearer ${legacy}`, { ...tokens, _legacy: legacy }, undefined, [
      "peregrine",
    ]);
    expect(caller).toEqual({ source: null, sources: ["peregrine"], principal: "ingest-legacy-secret" });
    expect(mayIngestFor(caller, "peregrine")).toBe(true);
    expect(mayIngestFor(caller, "kiwi")).toBe(false);
    // Per-source tokens keep their one source.
    const kiwi = await authenticateIngest(
      `Bearer ${tokens.kiwi}`,
      { ...tokens, _legacy: legacy },
      undefined,
      ["peregrine"],
    );
    expect(kiwi).toEqual({ source: "kiwi", principal: "ingest-token:kiwi" });
    expect(mayIngestFor(kiwi, "peregrine")).toBe(false);
  });

  it("is configured on its own (no product token) and still refuses a wrong secret with 403", async () => {
    const only = { _legacy: legacy };
    expect((await authenticateIngest(`Bearer ${legacy}`, only, undefined, ["kiwi"])).sources).toEqual([
      "kiwi",
    ]);
    await expect(authenticateIngest(`Bearer ${legacy}x`, only, undefined, ["kiwi"])).rejects.toThrow(
      ForbiddenError,
    );
    await expect(authenticateIngest(null, only, undefined, ["kiwi"])).rejects.toThrow(UnauthorizedError);
  });
});

/** A user pool's signing key, and access tokens as Cognito issues them for client credentials. */
const POOL = "us-east-1_TestPool1";
const ISSUER = `https://cognito-idp.us-east-1.amazonaws.com/${POOL}`;
const KID = "test-key-1";
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function accessToken(claims: Record<string, unknown>, key = privateKey) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64({ alg: "RS256", kid: KID, typ: "JWT" });
  const payload = b64({
    iss: ISSUER,
    token_use: "access",
    scope: "flywheel/ingest",
    iat: now,
    exp: now + 3600,
    jti: randomUUID(),
    ...claims,
  });
  const signature = createSign("RSA-SHA256").update(`${header}.${payload}`).sign(key).toString("base64url");
  return `${header}.${payload}.${signature}`;
}

function machineClients(): IngestClients {
  const verifier = new CognitoIngestJwt(POOL, ["kiwi-client", "harness-client"]);
  verifier.cacheJwks({
    keys: [{ ...publicKey.export({ format: "jwk" }), kid: KID, alg: "RS256", use: "sig" }],
  } as never);
  // The harness client is allowed to mint tokens but is bound to no source.
  return { verifier, sources: { "kiwi-client": "kiwi" } };
}

describe("authenticateIngest with machine clients' access tokens", () => {
  const clients = machineClients();
  const asClient = (claims: Record<string, unknown>, key = privateKey) =>
    authenticateIngest(`Bearer ${accessToken(claims, key)}`, {}, clients);

  it("accepts a client-credentials token for the one source its client is bound to", async () => {
    expect(await asClient({ sub: "kiwi-client", client_id: "kiwi-client" })).toEqual({
      source: "kiwi",
      principal: "oauth-client:kiwi-client",
    });
  });

  it.each([
    ["another key's signature", { sub: "kiwi-client", client_id: "kiwi-client" }, otherKey],
    [
      "no ingest scope",
      { sub: "kiwi-client", client_id: "kiwi-client", scope: "flywheel/review" },
      privateKey,
    ],
    ["an expired token", { sub: "kiwi-client", client_id: "kiwi-client", exp: 1_000 }, privateKey],
    ["an ID token", { sub: "kiwi-client", client_id: "kiwi-client", token_use: "id" }, privateKey],
    ["another pool", { sub: "kiwi-client", client_id: "kiwi-client", iss: `${ISSUER}x` }, privateKey],
    ["an unknown client", { sub: "x", client_id: "stranger" }, privateKey],
    ["a client bound to no source", { sub: "harness-client", client_id: "harness-client" }, privateKey],
  ])("answers 403 for %s", async (_, claims, key) => {
    await expect(asClient(claims, key)).rejects.toThrow(ForbiddenError);
  });

  it("counts machine clients as configuration: no 503 without per-source tokens", async () => {
    await expect(authenticateIngest("Bearer not-a-jwt", {}, clients)).rejects.toThrow(ForbiddenError);
  });
});
