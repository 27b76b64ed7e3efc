import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

/**
 * A small OAuth 2.0 / OpenID Connect authorization server on 127.0.0.1, shaped like a Cognito user
 * pool (an issuer with a path, /oauth2/authorize and /oauth2/token): it signs nobody in — its
 * authorize endpoint redirects straight back with a code — but checks what a real one checks: the
 * client, the redirect URI, PKCE (S256), the client secret (HTTP Basic) and the refresh token.
 */
export interface FakeAuthServer {
  readonly issuer: string;
  readonly publicClientId: string;
  readonly machineClient: { readonly id: string; readonly secret: string };
  /** Seconds an access token lives; tests shorten it. */
  accessTokenSeconds: number;
  /** Grants answered, by grant type. */
  readonly grants: Record<string, number>;
  /** Every access token issued, in order. */
  readonly issued: string[];
  /** The parameters of the last authorization request. */
  lastAuthorization?: URLSearchParams;
  stop(): Promise<void>;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

export async function startFakeAuthServer(): Promise<FakeAuthServer> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "test-key", alg: "RS256", use: "sig" };
  const codes = new Map<
    string,
    { challenge: string; redirectUri: string; clientId: string; scope: string }
  >();
  const refreshTokens = new Map<string, { clientId: string; scope: string }>();
  let issuer = "";

  const idToken = (clientId: string) => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: "RS256", kid: "test-key", typ: "JWT" }));
    const claims = b64url(
      JSON.stringify({
        iss: issuer,
        aud: clientId,
        sub: "person-1",
        email: "ana@example.com",
        iat: now,
        exp: now + 3600,
      }),
    );
    const signature = sign("sha256", Buffer.from(`${header}.${claims}`), privateKey);
    return `${header}.${claims}.${b64url(signature)}`;
  };

  const state: FakeAuthServer = {
    issuer: "",
    publicClientId: "cli-public-client",
    machineClient: { id: "harness-client", secret: "harness-secret" },
    accessTokenSeconds: 3600,
    grants: {},
    issued: [],
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const accessToken = () => {
    const token = `at-${randomBytes(12).toString("hex")}`;
    state.issued.push(token);
    return token;
  };

  const json = (response: ServerResponse, status: number, body: unknown) =>
    response
      .writeHead(status, { "content-type": "application/json", "cache-control": "no-store" })
      .end(JSON.stringify(body));
  const oauthError = (response: ServerResponse, error: string, status = 400) =>
    json(response, status, { error });

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", issuer);
    const path = url.pathname.slice(new URL(issuer).pathname.length);
    if (request.method === "GET" && path === "/.well-known/openid-configuration") {
      return json(response, 200, {
        issuer,
        authorization_endpoint: `${issuer}/oauth2/authorize`,
        token_endpoint: `${issuer}/oauth2/token`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        code_challenge_methods_supported: ["S256"],
        scopes_supported: ["openid", "email", "flywheel/review"],
      });
    }
    if (request.method === "GET" && path === "/.well-known/jwks.json")
      return json(response, 200, { keys: [jwk] });
    if (request.method === "GET" && path === "/oauth2/authorize") {
      const params = url.searchParams;
      state.lastAuthorization = params;
      const redirectUri = params.get("redirect_uri") ?? "";
      const challenge = params.get("code_challenge");
      if (
        params.get("client_id") !== state.publicClientId ||
        params.get("response_type") !== "code" ||
        !/^http:\/\/(127\.0\.0\.1|localhost):\d+\/callback$/.test(redirectUri) ||
        params.get("code_challenge_method") !== "S256" ||
        !challenge
      ) {
        return json(response, 400, { error: "invalid_request" });
      }
      const code = randomBytes(12).toString("hex");
      codes.set(code, {
        challenge,
        redirectUri,
        clientId: state.publicClientId,
        scope: params.get("scope") ?? "",
      });
      const back = new URL(redirectUri);
      back.searchParams.set("code", code);
      if (params.has("state")) back.searchParams.set("state", params.get("state") ?? "");
      return response.writeHead(302, { location: back.href }).end();
    }
    if (request.method === "POST" && path === "/oauth2/token") {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const grant = form.get("grant_type") ?? "";
      state.grants[grant] = (state.grants[grant] ?? 0) + 1;
      if (grant === "authorization_code") {
        const entry = codes.get(form.get("code") ?? "");
        codes.delete(form.get("code") ?? "");
        if (
          !entry ||
          entry.clientId !== form.get("client_id") ||
          entry.redirectUri !== form.get("redirect_uri")
        ) {
          return oauthError(response, "invalid_grant");
        }
        const verifier = form.get("code_verifier") ?? "";
        if (createHash("sha256").update(verifier).digest("base64url") !== entry.challenge) {
          return oauthError(response, "invalid_grant");
        }
        const refresh = `rt-${randomBytes(12).toString("hex")}`;
        refreshTokens.set(refresh, { clientId: entry.clientId, scope: entry.scope });
        return json(response, 200, {
          access_token: accessToken(),
          id_token: idToken(entry.clientId),
          refresh_token: refresh,
          token_type: "Bearer",
          expires_in: state.accessTokenSeconds,
        });
      }
      if (grant === "refresh_token") {
        const entry = refreshTokens.get(form.get("refresh_token") ?? "");
        if (!entry || entry.clientId !== form.get("client_id")) return oauthError(response, "invalid_grant");
        // Like Cognito: a new access and ID token, no new refresh token.
        return json(response, 200, {
          access_token: accessToken(),
          id_token: idToken(entry.clientId),
          token_type: "Bearer",
          expires_in: state.accessTokenSeconds,
        });
      }
      if (grant === "client_credentials") {
        const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? "")?.[1];
        const [id, secret] = basic
          ? Buffer.from(basic, "base64").toString().split(":").map(decodeURIComponent)
          : [];
        if (id !== state.machineClient.id || secret !== state.machineClient.secret) {
          return oauthError(response, "invalid_client", 401);
        }
        return json(response, 200, {
          access_token: accessToken(),
          token_type: "Bearer",
          expires_in: state.accessTokenSeconds,
        });
      }
      return oauthError(response, "unsupported_grant_type");
    }
    return json(response, 404, { error: "not_found" });
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error) => json(response, 500, { error: String(error) }));
  });
  server.listen({ port: 0, host: "127.0.0.1" });
  await once(server, "listening");
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  issuer = `http://127.0.0.1:${address.port}/us-east-1_TestPool`;
  return Object.assign(state, { issuer });
}
