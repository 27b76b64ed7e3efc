/**
 * The API's request and reply types, derived from its zod contract (lib/api/contract.ts), so the
 * UI and the handlers read one source. Type-only: nothing of zod or the contract is bundled.
 */
import type { z } from "zod";
import type { API_CONTRACT } from "../../lib/api/contract.ts";

type Contract = typeof API_CONTRACT;
export type RouteName = keyof Contract;

/** What a route's body accepts, before defaults are filled (what a client may send). */
export type RequestBody<R extends RouteName> = Contract[R] extends { body: infer B extends z.ZodType }
  ? z.input<B>
  : never;

/** What a route's query accepts, as the handler reads it. */
export type RequestQuery<R extends RouteName> = Contract[R] extends { query: infer Q extends z.ZodType }
  ? z.output<Q>
  : never;

/** A route's answer for one status (200 unless told). */
export type Reply<
  R extends RouteName,
  S extends keyof Contract[R]["responses"] = 200 & keyof Contract[R]["responses"],
> = Contract[R]["responses"][S] extends infer T extends z.ZodType ? z.output<T> : never;
