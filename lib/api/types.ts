/**
 * The API's request and reply types, derived from its zod contract (`API_CONTRACT` in
 * contract.ts), so the handlers, the web UI, the CLI and any other client read one source.
 * Type-only: importing this module loads neither zod nor the contract.
 */
import type * as z from "zod";
import type { API_CONTRACT } from "./contract.ts";

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

/** A route's answer, whichever of its successful statuses it came with. */
export type AnyReply<R extends RouteName> = {
  [S in keyof Contract[R]["responses"]]: Contract[R]["responses"][S] extends infer T extends z.ZodType
    ? z.output<T>
    : never;
}[keyof Contract[R]["responses"]];
