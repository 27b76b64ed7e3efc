import type { Router } from "@aws-lambda-powertools/event-handler/http";
import { registerReviewRoutes } from "../../review/edge/review-routes.ts";
import { reviewApiDeps } from "../../review/wiring.ts";
import type { SliceContext } from "./context.ts";

/** Registers the review routes on `app`; imported by `API_SLICES` on their first request. */
export function register(app: Router, { clients, config, reviewer }: SliceContext): void {
  registerReviewRoutes(
    app,
    reviewApiDeps(clients, {
      tableName: config.TABLE_NAME,
      bucket: config.BUCKET_NAME,
      runsPrefix: config.RUNS_PREFIX,
      runUploadsQueueUrl: config.RUN_UPLOADS_QUEUE_URL,
    }),
    reviewer,
  );
}
