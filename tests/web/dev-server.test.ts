import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ViteDevServer } from "vite";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

/**
 * `npm run dev:web` forwards `/local-config.json` (which holds the local dev token) from
 * `npm start`'s API. No other page the browser has open may read it: the dev server must not
 * answer another origin with CORS headers, as Vite does for any localhost origin by default.
 */

let api: Server;
let vite: ViteDevServer;
let base: string;

beforeAll(async () => {
  api = createHttpServer((_, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ reviewerToken: "dev-token-never-shared" }));
  });
  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
  vi.stubEnv("FLYWHEEL_API_URL", `http://127.0.0.1:${(api.address() as AddressInfo).port}`);
  const { createServer } = await import("vite");
  vite = await createServer({
    configFile: new URL("../../web/vite.config.ts", import.meta.url).pathname,
    server: { port: 0, strictPort: false },
    logLevel: "silent",
  });
  await vite.listen();
  const address = vite.httpServer?.address() as AddressInfo;
  base = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await vite?.close();
  await new Promise((resolve) => api?.close(resolve));
});

describe("the web dev server", () => {
  it("forwards the local sign-in to the page it serves", async () => {
    const response = await fetch(`${base}/local-config.json`);
    expect(await response.json()).toEqual({ reviewerToken: "dev-token-never-shared" });
  });

  it.each(["http://localhost:3000", "http://127.0.0.1:9999", "https://evil.example"])(
    "gives a page of %s no CORS permission to read it",
    async (origin) => {
      const read = await fetch(`${base}/local-config.json`, { headers: { origin } });
      expect(read.headers.get("access-control-allow-origin")).toBeNull();
      const preflight = await fetch(`${base}/local-config.json`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "GET" },
      });
      expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    },
  );
});
