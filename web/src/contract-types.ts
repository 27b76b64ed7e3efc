/**
 * The API's request and reply types, derived from its zod contract (lib/api/contract.ts) by
 * lib/api/types.ts, which the CLI reads too. Type-only: nothing of zod or the contract is bundled.
 */
export type { Reply, RequestBody, RequestQuery, RouteName } from "../../lib/api/types.ts";
