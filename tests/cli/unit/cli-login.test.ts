import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { authCommand } from "../../../cli/login.ts";
import { provenanceCommand } from "../../../cli/provenance.ts";
import type { CachedTokens } from "../../../cli/token-cache.ts";
import { type FakeAuthServer, startFakeAuthServer } from "../support/fake-auth-server.ts";

const run = promisify(execFile);

let auth: FakeAuthServer;
let api: Server;
let apiUrl: string;
/** The Authorization header of every request the fake API received. */
let seen: (string | undefined)[] = [];
let configDir: string;
let work: string;

beforeAll(async () => {
  auth = await startFakeAuthServer();
  api = createServer((request, response) => {
    seen.push(request.headers.authorization);
    if (!request.headers.authorization?.startsWith("Bearer ")) return response.writeHead(401).end("{}");
    const report = {
      total: 2,
      valid: 2,
      approved: 1,
      excluded: 0,
      missing_provenance: 0,
      coverage: 100,
      by_source: {},
      by_model: {},
    };
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(report));
  });
  api.listen({ port: 0, host: "127.0.0.1" });
  await once(api, "listening");
  const address = api.address();
  if (!address || typeof address === "string") throw new Error("no address");
  apiUrl = `http://127.0.0.1:${address.port}/prod`;
  work = await mkdtemp(join(tmpdir(), "flywheel-cli-login-"));
});

afterAll(async () => {
  await auth?.stop();
  api?.closeAllConnections();
  await new Promise((resolve) => api?.close(resolve));
  if (work) await rm(work, { recursive: true, force: true });
});

beforeEach(async () => {
  // A fresh config folder per test, nested, so the CLI has to create it with its permissions.
  configDir = join(await mkdtemp(join(work, "home-")), "config", "flywheel");
  seen = [];
  auth.accessTokenSeconds = 3600;
});

/** The environment of a person: the API, the authorization server and the CLI's public client. */
const personEnv = () => ({
  FLYWHEEL_CONFIG_DIR: configDir,
  FLYWHEEL_AUTH_URL: auth.issuer,
  FLYWHEEL_CLIENT_ID: auth.publicClientId,
});
const machineEnv = (secret = auth.machineClient.secret) => ({
  FLYWHEEL_CONFIG_DIR: configDir,
  FLYWHEEL_AUTH_URL: auth.issuer,
  FLYWHEEL_CLIENT_ID: auth.machineClient.id,
  FLYWHEEL_CLIENT_SECRET: secret,
});

const loginFile = () => join(configDir, "login.json");
const readLogin = async () => JSON.parse(await readFile(loginFile(), "utf8")) as CachedTokens;
const mode = async (path: string) => (await stat(path)).mode & 0o777;

/**
 * Starts `flywheel login` and answers the URL it prints and the command's outcome; the test then
 * plays the browser.
 */
async function startLogin(extra: string[] = [], env: Record<string, string> = personEnv()) {
  const printed: string[] = [];
  const outcome = authCommand(
    "login",
    ["--port", "0", "--timeout", "20", ...extra],
    (line) => printed.push(line),
    env,
  );
  outcome.catch(() => {});
  const deadline = Date.now() + 10_000;
  let url: string | undefined;
  while (!url) {
    url = printed.find((line) => line.trim().startsWith("http"))?.trim();
    if (!url) {
      const failed = await Promise.race([
        outcome.then(
          () => true,
          () => true,
        ),
        sleep(20).then(() => false),
      ]);
      if (failed) await outcome;
      if (Date.now() > deadline) throw new Error(`no URL printed: ${printed.join("\n")}`);
    }
  }
  return { url, printed, outcome };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The browser: the authorization server redirects back at once (the person is "signed in"). */
async function authorize(url: string): Promise<URL> {
  const reply = await fetch(url, { redirect: "manual" });
  expect(reply.status).toBe(302);
  return new URL(reply.headers.get("location") ?? "");
}

async function signIn(): Promise<CachedTokens> {
  const { url, outcome } = await startLogin();
  const back = await fetch(await authorize(url));
  expect(back.status).toBe(200);
  expect(await outcome).toBe(0);
  return readLogin();
}

const provenanceReport = (env: Record<string, string>, extra: string[] = []) =>
  provenanceCommand(["report", "--api-url", apiUrl, ...extra], () => {}, env);

describe("flywheel login", () => {
  it("signs in with PKCE through a loopback redirect and caches the tokens for the owner only", async () => {
    const { url, printed, outcome } = await startLogin();
    const request = new URL(url).searchParams;
    expect(request.get("code_challenge_method")).toBe("S256");
    expect(request.get("code_challenge")).toMatch(/^[\w-]{43}$/);
    expect(request.get("state")).toBeTruthy();
    // localhost, the one plain-http host Cognito takes; the server itself is on 127.0.0.1 only.
    expect(request.get("redirect_uri")).toMatch(/^http:\/\/localhost:\d+\/callback$/);

    const back = await fetch(await authorize(url));
    expect(back.status).toBe(200);
    expect(await back.text()).toMatch(/Signed in/);
    expect(await outcome).toBe(0);
    expect(printed.at(-1)).toMatch(/^signed in to http:\/\/127\.0\.0\.1:\d+\/us-east-1_TestPool; .* renewed/);

    // The server checked the verifier against the challenge before it answered these.
    expect(auth.grants.authorization_code).toBeGreaterThan(0);
    const cached = await readLogin();
    expect(cached).toMatchObject({ issuer: auth.issuer, clientId: auth.publicClientId });
    expect(cached.accessToken).toBe(auth.issued.at(-1));
    expect(cached.refreshToken).toMatch(/^rt-/);
    expect(cached.idToken?.split(".")).toHaveLength(3);
    expect(cached.expiresAt - Date.now()).toBeGreaterThan(3500_000);
    expect(await mode(loginFile())).toBe(0o600);
    expect(await mode(configDir)).toBe(0o700);
    expect(await readdir(configDir)).toEqual(["login.json"]);
  });

  it("refuses a reply whose state is not its own, and never exchanges its code", async () => {
    const before = auth.grants.authorization_code ?? 0;
    const { url, outcome } = await startLogin();
    const back = await authorize(url);
    back.searchParams.set("state", "forged-state");
    const reply = await fetch(back);
    expect(reply.status).toBe(400);
    await expect(outcome).rejects.toThrow(/state does not match/);
    expect(auth.grants.authorization_code ?? 0).toBe(before);
    await expect(stat(loginFile())).rejects.toThrow(/ENOENT/);
  });

  it("gives up after its timeout with a clear message and stops listening", async () => {
    const { printed, outcome } = await startLogin(["--timeout", "0.3", "--redirect-host", "127.0.0.1"]);
    await expect(outcome).rejects.toThrow(/no sign-in came back within 0\.3 s; run flywheel login again/);
    const redirect = /http:\/\/127\.0\.0\.1:\d+\/callback/.exec(printed.join("\n"))?.[0] ?? "";
    expect(redirect).not.toBe("");
    await expect(fetch(redirect)).rejects.toThrow();
  });

  it("needs the authorization server and the client", async () => {
    await expect(authCommand("login", [], () => {}, { FLYWHEEL_CONFIG_DIR: configDir })).rejects.toThrow(
      /--auth-url or FLYWHEEL_AUTH_URL/,
    );
  });
});

describe("commands that call the API", () => {
  it("send the signed-in person's access token", async () => {
    const cached = await signIn();
    expect(await provenanceReport({ FLYWHEEL_CONFIG_DIR: configDir })).toBe(0);
    expect(seen).toEqual([`Bearer ${cached.accessToken}`]);
  });

  it("renew an expired access token with the refresh token first, and keep the renewal", async () => {
    const cached = await signIn();
    // An hour's token with 30 s left: about to expire, so it is renewed before the call.
    const aboutToExpire = { obtainedAt: Date.now() - 3570_000, expiresAt: Date.now() + 30_000 };
    await writeFile(loginFile(), JSON.stringify({ ...cached, ...aboutToExpire }));
    const refreshes = auth.grants.refresh_token ?? 0;

    expect(await provenanceReport({ FLYWHEEL_CONFIG_DIR: configDir })).toBe(0);
    const renewed = auth.issued.at(-1);
    expect(renewed).not.toBe(cached.accessToken);
    expect(seen).toEqual([`Bearer ${renewed}`]);
    expect(auth.grants.refresh_token).toBe(refreshes + 1);

    const stored = await readLogin();
    expect(stored.accessToken).toBe(renewed);
    expect(stored.refreshToken).toBe(cached.refreshToken);
    expect(stored.expiresAt).toBeGreaterThan(Date.now() + 3500_000);
    expect(await mode(loginFile())).toBe(0o600);

    // Fresh now: the next command reuses it without asking again.
    expect(await provenanceReport({ FLYWHEEL_CONFIG_DIR: configDir })).toBe(0);
    expect(seen.at(-1)).toBe(`Bearer ${renewed}`);
    expect(auth.grants.refresh_token).toBe(refreshes + 1);
  });

  it("ask for a new sign-in when the refresh token is refused", async () => {
    const cached = await signIn();
    await writeFile(loginFile(), JSON.stringify({ ...cached, expiresAt: 0, refreshToken: "rt-revoked" }));
    await expect(provenanceReport({ FLYWHEEL_CONFIG_DIR: configDir })).rejects.toThrow(
      /could not be renewed .*invalid_grant.*run flywheel login/,
    );
    expect(seen).toEqual([]);
  });

  it("prefer --token, then FLYWHEEL_TOKEN, then a machine client, then the sign-in", async () => {
    const cached = await signIn();
    const everything = { ...machineEnv(), FLYWHEEL_TOKEN: "token-from-env" };
    await provenanceReport(everything, ["--token", "token-from-flag"]);
    await provenanceReport(everything);
    await provenanceReport(machineEnv());
    await provenanceReport({ FLYWHEEL_CONFIG_DIR: configDir });
    const machineToken = auth.issued.at(-1);
    expect(seen).toEqual([
      "Bearer token-from-flag",
      "Bearer token-from-env",
      `Bearer ${machineToken}`,
      `Bearer ${cached.accessToken}`,
    ]);
    expect(machineToken).not.toBe(cached.accessToken);
  });

  it("refuse a sign-in to another authorization server than the one named", async () => {
    await signIn();
    await expect(
      provenanceReport({ FLYWHEEL_CONFIG_DIR: configDir, FLYWHEEL_AUTH_URL: "https://other.example/pool" }),
    ).rejects.toThrow(/signed in to .* but the authorization server named is https:\/\/other\.example\/pool/);
  });

  it("without any token, say how to get one", async () => {
    await expect(provenanceReport({ FLYWHEEL_CONFIG_DIR: configDir })).rejects.toThrow(/flywheel login/);
    expect(seen).toEqual([]);
  });
});

describe("flywheel token", () => {
  it("prints a client-credentials token and reuses it from the cache until shortly before it expires", async () => {
    const printed: string[] = [];
    const grants = auth.grants.client_credentials ?? 0;
    expect(await authCommand("token", [], (line) => printed.push(line), machineEnv())).toBe(0);
    expect(await authCommand("token", [], (line) => printed.push(line), machineEnv())).toBe(0);
    expect(printed).toHaveLength(2);
    expect(printed[0]).toBe(auth.issued.at(-1));
    expect(printed[1]).toBe(printed[0]);
    expect(auth.grants.client_credentials).toBe(grants + 1);

    const [file] = await readdir(configDir);
    expect(file).toMatch(/^client-[0-9a-f]+\.json$/);
    expect(await mode(join(configDir, file as string))).toBe(0o600);
    expect(await readFile(join(configDir, file as string), "utf8")).not.toContain(auth.machineClient.secret);

    // About to expire: a new one is asked for.
    const cached = JSON.parse(await readFile(join(configDir, file as string), "utf8")) as CachedTokens;
    await writeFile(
      join(configDir, file as string),
      JSON.stringify({ ...cached, obtainedAt: Date.now() - 3540_000, expiresAt: Date.now() + 60_000 }),
    );
    await authCommand("token", [], (line) => printed.push(line), machineEnv());
    expect(auth.grants.client_credentials).toBe(grants + 2);
    expect(printed[2]).not.toBe(printed[0]);
  });

  it("does not hand a cached token to another secret, and reports a refused one", async () => {
    await authCommand("token", [], () => {}, machineEnv());
    await expect(authCommand("token", [], () => {}, machineEnv("wrong-secret"))).rejects.toThrow(
      /client credentials grant failed.*invalid_client/,
    );
  });

  it("prints the signed-in person's token when no machine client is set, and logout forgets both", async () => {
    const cached = await signIn();
    const printed: string[] = [];
    await authCommand("token", [], (line) => printed.push(line), { FLYWHEEL_CONFIG_DIR: configDir });
    expect(printed).toEqual([cached.accessToken]);

    await authCommand("token", [], () => {}, machineEnv());
    expect((await readdir(configDir)).sort()).toEqual([expect.stringMatching(/^client-/), "login.json"]);
    const out: string[] = [];
    expect(
      await authCommand("logout", [], (line) => out.push(line), { FLYWHEEL_CONFIG_DIR: configDir }),
    ).toBe(0);
    expect(out[0]).toMatch(/removed 2 cached token file/);
    expect(await readdir(configDir)).toEqual([]);
    await expect(authCommand("token", [], () => {}, { FLYWHEEL_CONFIG_DIR: configDir })).rejects.toThrow(
      /flywheel login/,
    );
  });

  it("prints nothing but the token on stdout, so FLYWHEEL_TOKEN=$(flywheel token) works", async () => {
    const { stdout } = await run(process.execPath, ["bin/flywheel.mjs", "token"], {
      env: { PATH: process.env.PATH, HOME: work, ...machineEnv() },
      timeout: 30_000,
    });
    expect(stdout).toBe(`${auth.issued.at(-1)}\n`);
    expect(stdout).toMatch(/^at-[0-9a-f]+\n$/);
  });
});
