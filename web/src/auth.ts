/**
 * Sign-in. Locally the runtime hands the dev reviewer token to pages served on loopback
 * (`/local-config.json`). In AWS, `config.json` (written next to index.html at deploy time) names
 * the Cognito user pool's domain and app client: the hosted UI signs the reviewer in, and the
 * authorization code comes back here to be exchanged with PKCE (a browser keeps no secret).
 */

export interface LocalConfig {
  readonly reviewerToken: string;
}

export interface DeployedConfig {
  /** The hosted UI's domain, e.g. `flywheel-123.auth.eu-west-1.amazoncognito.com`. */
  readonly cognitoDomain: string;
  readonly clientId: string;
  /** Where `/api` lives; the page's own origin when absent. */
  readonly apiUrl?: string;
  readonly scopes?: readonly string[];
}

export interface Auth {
  readonly mode: "local" | "cognito";
  readonly apiUrl: string;
  /** Who is signed in, when known. */
  readonly user: string | null;
  /**
   * The flywheel scopes the signed-in user's token holds (`admin`, `export`, …), read from the
   * access token; `null` when not known here (locally), where the API alone decides.
   */
  readonly scopes?: readonly string[] | null;
  /** The bearer token for the next request; `null` when signed out. */
  token(): Promise<string | null>;
  signIn(): void;
  signOut(): void;
}

interface StoredTokens {
  /** Sent to the API: it carries the scopes of the reviewer's groups, which the routes check. */
  readonly accessToken: string;
  /** Read for the signed-in user's name only. */
  readonly idToken: string;
  readonly refreshToken: string | null;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

const TOKENS_KEY = "flywheel.tokens";
const PKCE_KEY = "flywheel.pkce";

async function fetchJson(url: string, fetcher: typeof fetch): Promise<unknown | null> {
  try {
    const response = await fetcher(url, { cache: "no-store", headers: { accept: "application/json" } });
    if (!response.ok) return null;
    if (!(response.headers.get("content-type") ?? "").includes("json")) return null;
    return await response.json();
  } catch {
    return null;
  }
}

export interface AuthEnvironment {
  readonly fetch: typeof fetch;
  readonly location: Location;
  readonly history: History;
  readonly storage: Storage;
  readonly crypto: Crypto;
}

const browser = (): AuthEnvironment => ({
  fetch: (input, init) => fetch(input, init),
  location: window.location,
  history: window.history,
  storage: window.sessionStorage,
  crypto: window.crypto,
});

/** Finds out how to sign in, finishing a hosted-UI redirect if this page load is one. */
export async function startAuth(env: AuthEnvironment = browser()): Promise<Auth> {
  const local = (await fetchJson("/local-config.json", env.fetch)) as Partial<LocalConfig> | null;
  if (typeof local?.reviewerToken === "string" && local.reviewerToken) {
    const token = local.reviewerToken;
    return {
      mode: "local",
      apiUrl: "",
      user: "local reviewer",
      scopes: null,
      token: async () => token,
      signIn: () => env.location.reload(),
      signOut: () => {},
    };
  }
  const deployed = (await fetchJson("/config.json", env.fetch)) as Partial<DeployedConfig> | null;
  if (typeof deployed?.cognitoDomain !== "string" || typeof deployed.clientId !== "string") {
    throw new Error(
      "No sign-in configuration: locally, open the URL `npm start` prints; in AWS, config.json is missing.",
    );
  }
  return cognitoAuth(deployed as DeployedConfig, env);
}

const base64Url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

function randomString(crypto: Crypto): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(32)));
}

function claimsOf(jwt: string): Record<string, unknown> {
  try {
    const payload = jwt.split(".")[1] ?? "";
    const binary = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const json = new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** What Cognito's token endpoint answers (a refresh answers no new refresh token). */
interface TokenReply {
  readonly access_token: string;
  readonly id_token: string;
  readonly refresh_token?: string;
  readonly expires_in: number;
}

async function cognitoAuth(config: DeployedConfig, env: AuthEnvironment): Promise<Auth> {
  const origin = `https://${config.cognitoDomain.replace(/^https?:\/\//, "").replace(/\/$/, "")}`;
  const redirectUri = `${env.location.origin}/`;
  const read = (): StoredTokens | null => {
    try {
      return JSON.parse(env.storage.getItem(TOKENS_KEY) ?? "null") as StoredTokens | null;
    } catch {
      return null;
    }
  };
  const save = (reply: TokenReply, previous?: string) => {
    const tokens: StoredTokens = {
      accessToken: reply.access_token,
      idToken: reply.id_token,
      refreshToken: reply.refresh_token ?? previous ?? null,
      expiresAt: Date.now() + reply.expires_in * 1000,
    };
    env.storage.setItem(TOKENS_KEY, JSON.stringify(tokens));
    return tokens;
  };
  const tokenRequest = async (params: Record<string, string>) => {
    const response = await env.fetch(`${origin}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: config.clientId, ...params }),
    });
    if (!response.ok) throw new Error(`Sign-in failed (${response.status})`);
    return (await response.json()) as TokenReply;
  };

  // Back from the hosted UI with ?code=…&state=…: exchange the code once, then drop it from the URL.
  const query = new URLSearchParams(env.location.search);
  const code = query.get("code");
  if (code) {
    const pending = JSON.parse(env.storage.getItem(PKCE_KEY) ?? "null") as {
      state: string;
      verifier: string;
    } | null;
    env.storage.removeItem(PKCE_KEY);
    env.history.replaceState(null, "", `${env.location.pathname}${env.location.hash}`);
    if (!pending || pending.state !== query.get("state")) throw new Error("Sign-in failed: state mismatch");
    save(
      await tokenRequest({
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri,
        code_verifier: pending.verifier,
      }),
    );
  }

  let refreshing: Promise<StoredTokens | null> | null = null;
  const current = read();
  const user = current ? claimsOf(current.idToken) : {};
  const granted = current?.accessToken ? claimsOf(current.accessToken).scope : undefined;
  return {
    mode: "cognito",
    apiUrl: (config.apiUrl ?? "").replace(/\/$/, ""),
    user: typeof user.email === "string" ? user.email : null,
    scopes:
      typeof granted === "string"
        ? granted
            .split(" ")
            .filter((scope) => scope.startsWith("flywheel/"))
            .map((scope) => scope.slice("flywheel/".length))
        : null,
    async token() {
      const tokens = read();
      if (!tokens) return null;
      // Tokens kept before the access token was (an ID token only) are refreshed.
      if (tokens.accessToken && tokens.expiresAt - Date.now() > 60_000) return tokens.accessToken;
      if (!tokens.refreshToken) return null;
      const refreshToken = tokens.refreshToken;
      refreshing ??= tokenRequest({ grant_type: "refresh_token", refresh_token: refreshToken })
        .then((reply) => save(reply, refreshToken))
        .catch(() => {
          env.storage.removeItem(TOKENS_KEY);
          return null;
        })
        .finally(() => {
          refreshing = null;
        });
      return (await refreshing)?.accessToken ?? null;
    },
    signIn() {
      void (async () => {
        const verifier = randomString(env.crypto);
        const state = randomString(env.crypto);
        const digest = await env.crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
        env.storage.setItem(PKCE_KEY, JSON.stringify({ state, verifier }));
        const params = new URLSearchParams({
          response_type: "code",
          client_id: config.clientId,
          redirect_uri: redirectUri,
          scope: (config.scopes ?? ["openid", "email"]).join(" "),
          state,
          code_challenge: base64Url(new Uint8Array(digest)),
          code_challenge_method: "S256",
        });
        env.location.assign(`${origin}/oauth2/authorize?${params}`);
      })();
    },
    signOut() {
      env.storage.removeItem(TOKENS_KEY);
      const params = new URLSearchParams({ client_id: config.clientId, logout_uri: redirectUri });
      env.location.assign(`${origin}/logout?${params}`);
    },
  };
}
