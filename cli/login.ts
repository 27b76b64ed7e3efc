import { parseArgs } from "node:util";
import {
  AuthError,
  authSettings,
  clientCredentialsToken,
  DEFAULT_LOGIN_PORT,
  DEFAULT_LOGIN_TIMEOUT_SECONDS,
  login,
  loginAccessToken,
  machineClient,
} from "./auth.ts";
import { type CommandIo, toIo } from "./output.ts";
import { UsageError } from "./target.ts";
import { configDir, removeCachedTokens } from "./token-cache.ts";

type Env = Record<string, string | undefined>;

export const AUTH_USAGE = `  flywheel login [--auth-url ISSUER] [--client-id ID] [--scope "S1 S2"] [--port N]
                 [--redirect-host localhost|127.0.0.1] [--timeout SECONDS] [--open]
      Signs a person in (authorization code with PKCE): prints the URL to open (--open also tries
      a browser), waits on 127.0.0.1 for the browser to come back to http://localhost:<port>/callback
      (port ${DEFAULT_LOGIN_PORT}, wait ${DEFAULT_LOGIN_TIMEOUT_SECONDS} s by default), checks it and keeps the tokens in the config folder.
  flywheel logout
      Forgets every token the CLI keeps (the sign-in and machine clients' tokens).
  flywheel token [--auth-url ISSUER] [--client-id ID] [--scope "S1 S2"]
      Prints an access token: a machine client's (client credentials; FLYWHEEL_CLIENT_ID and
      FLYWHEEL_CLIENT_SECRET from the environment), else the signed-in person's. It is cached
      and reused until shortly before it expires: FLYWHEEL_TOKEN=$(flywheel token) works.

Signing in: commands that call the API send, first found: --token, FLYWHEEL_TOKEN, a machine
client's token (FLYWHEEL_CLIENT_ID + FLYWHEEL_CLIENT_SECRET), the flywheel login sign-in (renewed
with its refresh token). The authorization server is --auth-url or FLYWHEEL_AUTH_URL, its issuer
(for the stack: https://cognito-idp.<region>.amazonaws.com/<user pool id>); the client
--client-id or FLYWHEEL_CLIENT_ID; scopes --scope or FLYWHEEL_SCOPE (unset: the server's choice).
Tokens are kept in FLYWHEEL_CONFIG_DIR, else $XDG_CONFIG_HOME/flywheel or ~/.config/flywheel,
readable by their owner only.
JSON: login {issuer, expires_at, refreshable} (the URL and prompts go to stderr); logout {removed};
token {access_token}.`;

const AUTH_OPTIONS = {
  "auth-url": { type: "string" },
  "client-id": { type: "string" },
  scope: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** `flywheel login | logout | token`; returns the exit code. */
export async function authCommand(
  command: "login" | "logout" | "token",
  argv: string[],
  output: CommandIo | ((line: string) => void),
  env: Env = process.env,
): Promise<number> {
  const io = toIo(output);
  const print = io.print;
  if (command === "logout") {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { help: AUTH_OPTIONS.help },
    });
    if (values.help) return usage(print);
    if (positionals.length > 0) throw new UsageError("logout takes no arguments");
    const removed = await removeCachedTokens(env);
    io.emit({ removed });
    print(
      removed > 0
        ? `signed out: removed ${removed} cached token file(s) from ${configDir(env)}`
        : "no cached tokens",
    );
    return 0;
  }

  if (command === "token") {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: AUTH_OPTIONS });
    if (values.help) return usage(print);
    if (positionals.length > 0) throw new UsageError("token takes no arguments");
    const flags = { authUrl: values["auth-url"], clientId: values["client-id"], scope: values.scope };
    const client = machineClient(flags, env);
    const token = client
      ? await clientCredentialsToken(client, env)
      : await loginAccessToken(env, { expectedIssuer: authSettings(flags, env).issuer });
    if (!token) {
      throw new AuthError(
        "no token: set FLYWHEEL_CLIENT_ID, FLYWHEEL_CLIENT_SECRET and FLYWHEEL_AUTH_URL for a machine client, or sign in with flywheel login",
      );
    }
    io.emit({ access_token: token });
    print(token);
    return 0;
  }

  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...AUTH_OPTIONS,
      port: { type: "string" },
      "redirect-host": { type: "string" },
      timeout: { type: "string" },
      open: { type: "boolean" },
    },
  });
  if (values.help) return usage(print);
  if (positionals.length > 0) throw new UsageError("login takes no arguments");
  const settings = authSettings(
    { authUrl: values["auth-url"], clientId: values["client-id"], scope: values.scope },
    env,
  );
  if (!settings.issuer)
    throw new UsageError("login needs the authorization server: --auth-url or FLYWHEEL_AUTH_URL");
  if (!settings.clientId)
    throw new UsageError("login needs the CLI's app client: --client-id or FLYWHEEL_CLIENT_ID");
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
    throw new UsageError("--port takes a port number (0: any free port)");
  }
  const redirectHost = values["redirect-host"];
  if (redirectHost !== undefined && redirectHost !== "127.0.0.1" && redirectHost !== "localhost") {
    throw new UsageError("--redirect-host is 127.0.0.1 or localhost");
  }
  const timeoutSeconds = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutSeconds !== undefined && !(timeoutSeconds > 0)) {
    throw new UsageError("--timeout must be a positive number of seconds");
  }
  const tokens = await login(
    { issuer: settings.issuer, clientId: settings.clientId, scope: settings.scope },
    { port, redirectHost, timeoutSeconds, openBrowser: values.open, print },
    env,
  );
  io.emit({
    issuer: tokens.issuer,
    expires_at: new Date(tokens.expiresAt).toISOString(),
    refreshable: Boolean(tokens.refreshToken),
  });
  const minutes = Math.round((tokens.expiresAt - Date.now()) / 60_000);
  print(
    `signed in to ${tokens.issuer}; the access token is valid for ${minutes} min` +
      (tokens.refreshToken ? " and is renewed with the refresh token" : ""),
  );
  return 0;
}

function usage(print: (line: string) => void): number {
  print(`Usage:\n${AUTH_USAGE}`);
  return 0;
}
