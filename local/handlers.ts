import type { QueueKey } from "../lib/common/resources.ts";
import type { HttpApiHandler } from "./http-api.ts";
import type { SqsHandler } from "./poller.ts";

export interface QueueConsumer {
  readonly functionName: string;
  readonly load: () => Promise<SqsHandler>;
}

/**
 * The function consuming each queue, as the stack wires it. Modules are imported lazily, after
 * the runtime has set the environment they read at module load. A queue without an entry is
 * provisioned but not consumed.
 */
export const QUEUE_CONSUMERS: { readonly [K in QueueKey]?: QueueConsumer } = {
  runUploads: {
    functionName: "import-run",
    load: async () => (await import("../functions/import-run.ts")).handler,
  },
  corrections: {
    functionName: "ingest-corrections",
    load: async () => (await import("../functions/ingest-corrections.ts")).handler,
  },
  judge: { functionName: "judge", load: async () => (await import("../functions/judge.ts")).handler },
  suggestions: {
    functionName: "suggest",
    load: async () => (await import("../functions/suggest.ts")).handler,
  },
  exports: { functionName: "export", load: async () => (await import("../functions/export.ts")).handler },
};

export const loadApiHandler = async (): Promise<HttpApiHandler> =>
  (await import("../functions/api.ts")).handler;
