import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import * as oauth from "openid-client";
import {
  type CachedTokens,
  clientCacheFile,
  loginCacheFile,
  readCachedTokens,
  writeCachedTokens,
} from "./token-cache.ts";

type Env = Record<string, string | undefined>;

/**
 * Signing in to the API's authorization server (Cognito's user pool, or any OAuth 2.0 / OpenID
 * Connect server): `flywheel login` for people (authorization code with PKCE through a browser and
 * a one-shot loopback redirect), client credentials for machines, and the refresh of both. The
 * protocol itself (PKCE, state, the token requests and the checks on their replies) is
 * openid-client's; this module adds where tokens are kept and when they are renewed.
 */

export class AuthError extends Error {}

/**
 * The port `flywheel login` listens on: Cognito compares the redirect URI with the app client's
 * callback URLs as a string, port included, so the default one is registered in the stack
 * (infra/reviewers.ts: http://localhost:8976/callback).
 */
export const DEFAULT_LOGIN_PORT = 8976;
/** How long `flywheel login` waits for the browser to come back. */
export const DEFAULT_LOGIN_TIMEOUT_SECONDS = 300;

/** The authorization server and client a command uses: flags first, then the environment. */
export interface AuthSettings {
  readonly issuer: string;
  readonly clientId: string;
  /** Space-separated; unset lets the server decide (Cognito grants all the client's scopes). */
  readonly scope?: string | undefined;
}

export function authSettings(
  flags: { authUrl?: string | undefined; clientId?: string | undefined; scope?: string | undefined },
  env: Env,
): Partial<AuthSettings> {
  const issuer = flags.authUrl ?? env.FLYWHEEL_AUTH_URL;
  return {
    issuer: issuer ? issuer.replace(/\/+$/, "") : undefined,
    clientId: flags.clientId ?? env.FLYWHEEL_CLIENT_ID,
    scope: (flags.scope ?? env.FLYWHEEL_SCOPE)?.trim() || undefined,
  };
}

/** The machine client named by the environment: FLYWHEEL_CLIENT_ID with FLYWHEEL_CLIENT_SECRET. */
export function machineClient(
  flags: { authUrl?: string | undefined; clientId?: string | undefined; scope?: string | undefined },
  env: Env,
): (AuthSettings & { clientSecret: string }) | undefined {
  const clientSecret = env.FLYWHEEL_CLIENT_SECRET;
  if (!clientSecret) return undefined;
  const settings = authSettings(flags, env);
  if (!settings.clientId) throw new AuthError("FLYWHEEL_CLIENT_SECRET is set without FLYWHEEL_CLIENT_ID");
  if (!settings.issuer) {
    throw new AuthError(
      "client credentials need the authorization server: --auth-url or FLYWHEEL_AUTH_URL (its issuer)",
    );
  }
  return { issuer: settings.issuer, clientId: settings.clientId, scope: settings.scope, clientSecret };
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * The server's metadata from its discovery document (OpenID Connect's, else RFC 8414's). Plain
 * http is allowed only for a server on this machine's loopback interface.
 */
async function discover(
  issuer: string,
  clientId: string,
  auth: oauth.ClientAuth,
): Promise<oauth.Configuration> {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new AuthError(`the authorization server URL is not a URL: ${issuer}`);
  }
  const insecure = url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
  const options = (algorithm: "oidc" | "oauth2"): oauth.DiscoveryRequestOptions => ({
    algorithm,
    timeout: 30,
    ...(insecure ? { execute: [oauth.allowInsecureRequests] } : {}),
  });
  try {
    return await oauth.discovery(url, clientId, undefined, auth, options("oidc"));
  } catch (oidcError) {
    try {
      return await oauth.discovery(url, clientId, undefined, auth, options("oauth2"));
    } catch {
      throw new AuthError(
        `no authorization server metadata under ${issuer} (${describe(oidcError)}); ` +
          "--auth-url / FLYWHEEL_AUTH_URL names the issuer — for Cognito " +
          "https://cognito-idp.<region>.amazonaws.com/<user pool id>, not the hosted UI's domain",
      );
    }
  }
}

/** What went wrong, with the server's `error_description` when it gave one. */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { error: code, error_description: detail } = error as {
    error?: unknown;
    error_description?: unknown;
  };
  const parts = [error.message];
  if (typeof code === "string" && !error.message.includes(code)) parts.push(code);
  if (typeof detail === "string") parts.push(detail);
  // fetch's own "fetch failed" says why only in its cause (ECONNREFUSED, ENOTFOUND, …).
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const reason = cause?.code ?? cause?.message;
  if (error.message === "fetch failed" && typeof reason === "string") parts.push(reason);
  return parts.join(": ");
}

function toCached(
  settings: AuthSettings,
  reply: oauth.TokenEndpointResponse & oauth.TokenEndpointResponseHelpers,
  now: number,
  previous?: CachedTokens,
): CachedTokens {
  // A server that does not say how long a token lives: assume an hour, like Cognito's default.
  const expiresIn = reply.expiresIn() ?? 3600;
  const refreshToken = reply.refresh_token ?? previous?.refreshToken;
  const idToken = reply.id_token ?? previous?.idToken;
  return {
    issuer: settings.issuer,
    clientId: settings.clientId,
    ...(settings.scope ? { scope: settings.scope } : {}),
    accessToken: reply.access_token,
    ...(refreshToken ? { refreshToken } : {}),
    ...(idToken ? { idToken } : {}),
    obtainedAt: now,
    expiresAt: now + expiresIn * 1000,
  };
}

/**
 * Whether a cached access token is still good to hand out: it must outlive the next few minutes
 * (half its lifetime for a short-lived one), so a command or a script using it is not cut off.
 */
export function stillFresh(tokens: CachedTokens, now: number = Date.now()): boolean {
  const margin = Math.min(5 * 60_000, (tokens.expiresAt - tokens.obtainedAt) / 2);
  return tokens.expiresAt - now > margin;
}

export interface LoginOptions {
  readonly port?: number | undefined;
  /**
   * The host in the redirect URI: `localhost` (default: Cognito takes plain http for localhost
   * only) or `127.0.0.1`; the server listens on 127.0.0.1 either way.
   */
  readonly redirectHost?: "127.0.0.1" | "localhost" | undefined;
  readonly timeoutSeconds?: number | undefined;
  /** Tries to open the URL in a browser as well as printing it. */
  readonly openBrowser?: boolean | undefined;
  readonly print: (line: string) => void;
}

/**
 * `flywheel login`: prints the authorization URL, waits (bounded) for the browser to come back to
 * http://localhost:<port>/callback (a server on 127.0.0.1 only), checks the reply's state, exchanges the code with its PKCE
 * verifier and caches the tokens. Answers the cached tokens.
 */
export async function login(settings: AuthSettings, options: LoginOptions, env: Env): Promise<CachedTokens> {
  const config = await discover(settings.issuer, settings.clientId, oauth.None());
  if (!config.serverMetadata().authorization_endpoint) {
    throw new AuthError(`${settings.issuer} has no authorization endpoint`);
  }
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_LOGIN_TIMEOUT_SECONDS;
  const callback = await startCallbackServer(options.port ?? DEFAULT_LOGIN_PORT, timeoutSeconds);
  try {
    const redirectUri = `http://${options.redirectHost ?? "localhost"}:${callback.port}/callback`;
    const verifier = oauth.randomPKCECodeVerifier();
    const state = oauth.randomState();
    const url = oauth.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      ...(settings.scope ? { scope: settings.scope } : {}),
    });
    options.print("Open this URL in a browser to sign in:");
    options.print(`  ${url.href}`);
    options.print(`Waiting up to ${timeoutSeconds} s for the sign-in to come back to ${redirectUri} …`);
    if (options.openBrowser) openInBrowser(url.href);

    const reply = await callback.received;
    const params = reply.url.searchParams;
    if (params.get("state") !== state) {
      reply.answer(
        400,
        "Sign-in refused: the reply does not belong to this login. Run flywheel login again.",
      );
      throw new AuthError(
        "the sign-in reply's state does not match this login; refused (run flywheel login again)",
      );
    }
    const error = params.get("error");
    if (error) {
      const detail = params.get("error_description");
      reply.answer(400, `Sign-in failed: ${error}${detail ? `: ${detail}` : ""}`);
      throw new AuthError(
        `the authorization server refused the sign-in: ${error}${detail ? `: ${detail}` : ""}`,
      );
    }
    const current = new URL(redirectUri);
    current.search = reply.url.search;
    let tokens: CachedTokens;
    try {
      const now = Date.now();
      const answer = await oauth.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      tokens = toCached(settings, answer, now);
    } catch (cause) {
      reply.answer(502, "Sign-in failed while exchanging the code; see the terminal.");
      throw new AuthError(`the code exchange failed: ${describe(cause)}`);
    }
    await writeCachedTokens(loginCacheFile(env), tokens);
    reply.answer(200, "Signed in to Flywheel. You can close this tab.");
    return tokens;
  } finally {
    await callback.close();
  }
}

interface CallbackReply {
  readonly url: URL;
  readonly answer: (status: number, text: string) => void;
}

/**
 * A one-shot HTTP server on 127.0.0.1: the first request to /callback settles `received` (other
 * paths answer 404), and `received` rejects when nothing came within the timeout.
 */
async function startCallbackServer(
  port: number,
  timeoutSeconds: number,
): Promise<{ port: number; received: Promise<CallbackReply>; close: () => Promise<void> }> {
  let settle: (reply: CallbackReply) => void = () => {};
  let fail: (error: Error) => void = () => {};
  const received = new Promise<CallbackReply>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  let done = false;
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    if (request.method !== "GET" || url.pathname !== "/callback" || done) {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found");
      return;
    }
    done = true;
    settle({
      url,
      answer: (status, text) => {
        if (!response.headersSent) {
          response.writeHead(status, { "content-type": "text/plain; charset=utf-8", connection: "close" });
          response.end(`${text}\n`);
        }
      },
    });
  });
  server.listen({ port, host: "127.0.0.1" });
  try {
    await once(server, "listening");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AuthError(
      code === "EADDRINUSE"
        ? `port ${port} on 127.0.0.1 is in use; name another with --port (the app client must allow its redirect URI)`
        : `cannot listen on 127.0.0.1:${port}: ${describe(error)}`,
    );
  }
  const timer = setTimeout(() => {
    done = true;
    fail(
      new AuthError(
        `no sign-in came back within ${timeoutSeconds} s; run flywheel login again (--timeout SECONDS waits longer)`,
      ),
    );
  }, timeoutSeconds * 1000);
  received.catch(() => {});
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    received,
    close: async () => {
      clearTimeout(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // A browser may keep the connection open; it must not keep the command waiting.
      setTimeout(() => server.closeAllConnections(), 1_000).unref();
      await closed;
    },
  };
}

/** Best effort: the platform's opener, detached; the printed URL remains the way in. */
function openInBrowser(url: string): void {
  const [command, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", "", url]]
        : ["xdg-open", [url]];
  try {
    const child = spawn(command as string, args as string[], { stdio: "ignore", detached: true });
    child.on("error", () => {});
    child.unref();
  } catch {
    // The URL is printed; opening it by hand works as well.
  }
}

/**
 * The signed-in person's access token, refreshed with the refresh token when it expires within
 * the margin; undefined when nobody signed in. `expected` (an issuer named by flag or environment)
 * must match the one signed in to.
 */
export async function loginAccessToken(
  env: Env,
  options: { expectedIssuer?: string | undefined; now?: () => number } = {},
): Promise<string | undefined> {
  const file = loginCacheFile(env);
  const cached = await readCachedTokens(file);
  if (!cached) return undefined;
  if (options.expectedIssuer && options.expectedIssuer !== cached.issuer) {
    throw new AuthError(
      `signed in to ${cached.issuer}, but the authorization server named is ${options.expectedIssuer}; run flywheel login`,
    );
  }
  const now = options.now ?? Date.now;
  if (stillFresh(cached, now())) return cached.accessToken;
  if (!cached.refreshToken) throw new AuthError("your sign-in has expired; run flywheel login");
  const settings = { issuer: cached.issuer, clientId: cached.clientId, scope: cached.scope };
  const config = await discover(settings.issuer, settings.clientId, oauth.None());
  let refreshed: CachedTokens;
  try {
    const at = now();
    refreshed = toCached(settings, await oauth.refreshTokenGrant(config, cached.refreshToken), at, cached);
  } catch (error) {
    throw new AuthError(`your sign-in could not be renewed (${describe(error)}); run flywheel login`);
  }
  await writeCachedTokens(file, refreshed);
  return refreshed.accessToken;
}

/**
 * A machine client's access token (client credentials grant, the secret sent with HTTP Basic),
 * from the cache while it stays fresh, else asked for and cached.
 */
export async function clientCredentialsToken(
  client: AuthSettings & { clientSecret: string },
  env: Env,
  options: { now?: () => number; fresh?: boolean } = {},
): Promise<string> {
  const file = clientCacheFile(client, env);
  const now = options.now ?? Date.now;
  const cached = options.fresh ? undefined : await readCachedTokens(file);
  if (cached && stillFresh(cached, now())) return cached.accessToken;
  const config = await discover(client.issuer, client.clientId, oauth.ClientSecretBasic(client.clientSecret));
  let tokens: CachedTokens;
  try {
    const at = now();
    const reply = await oauth.clientCredentialsGrant(config, client.scope ? { scope: client.scope } : {});
    tokens = toCached(client, reply, at);
  } catch (error) {
    throw new AuthError(`the client credentials grant failed: ${describe(error)}`);
  }
  await writeCachedTokens(file, tokens);
  return tokens.accessToken;
}
