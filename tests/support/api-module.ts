import { vi } from "vitest";
import { lambdaContext } from "./events.ts";
import { type ApiHandler, callApi } from "./http-events.ts";

/**
 * The API function's handler imported afresh with `env` over `baseEnv` (the module registry
 * reset, so it reads its configuration again), with the ingest capability already loaded. The
 * API loads each capability on its first request: a handler kept while a test resets the
 * registry again would load it into the new registry, whose error classes are not the ones its
 * router maps to statuses. Loaded at once, it stays within its own.
 */
export async function freshIngestApi(
  baseEnv: Record<string, string>,
  env: Record<string, string>,
): Promise<ApiHandler> {
  vi.resetModules();
  for (const [name, value] of Object.entries({ ...baseEnv, ...env })) vi.stubEnv(name, value);
  const { handler } = (await import("../../functions/api.ts")) as { handler: ApiHandler };
  await callApi(handler, lambdaContext("api"), "POST", "/api/sft/ingest", {});
  return handler;
}
