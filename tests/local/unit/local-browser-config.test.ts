import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpApiServer, isLoopbackHost, startHttpApi } from "../../../local/http-api.ts";

let server: HttpApiServer;
let handlerCalls = 0;

beforeAll(async () => {
  server = await startHttpApi({
    port: 0,
    region: "us-east-1",
    browserConfig: { reviewerToken: "dev-token" },
    handler: async () => {
      handlerCalls += 1;
      return { statusCode: 404, body: "{}" };
    },
  });
});

afterAll(() => server.stop());

/** A raw request, so the Host header can be what a rebinding page would send. */
function get(path: string, headers: Record<string, string> = {}, method = "GET") {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((done, fail) => {
    const req = request(`${server.url}${path}`, { method, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", fail);
    req.end();
  });
}

describe("GET /local-config.json", () => {
  it("gives a loopback page the dev reviewer token, never cached", async () => {
    const reply = await get("/local-config.json");

    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ reviewerToken: "dev-token" });
    expect(reply.headers["cache-control"]).toBe("no-store");
    expect(reply.headers["content-type"]).toBe("application/json");
  });

  it("also answers under the names localhost and [::1]", async () => {
    expect((await get("/local-config.json", { host: `localhost:${server.port}` })).status).toBe(200);
    expect((await get("/local-config.json", { host: `[::1]:${server.port}` })).status).toBe(200);
  });

  it("refuses a request that names another host (a page that rebound its name to 127.0.0.1)", async () => {
    const reply = await get("/local-config.json", { host: `attacker.example:${server.port}` });

    expect(reply.status).toBe(403);
    expect(reply.body).not.toContain("dev-token");
  });

  it("answers 405 to other methods and never reaches the handler", async () => {
    expect((await get("/local-config.json", {}, "POST")).status).toBe(405);
    expect(handlerCalls).toBe(0);
  });
});

describe("isLoopbackHost", () => {
  it.each([
    ["127.0.0.1:8787", true],
    ["127.0.0.1", true],
    ["localhost:5173", true],
    ["[::1]:8787", true],
    ["127.12.0.3", true],
    ["127.0.0.1.nip.io", false],
    ["localhost.example", false],
    ["192.168.1.10:8787", false],
    ["", false],
    [undefined, false],
  ])("%s → %s", (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});
