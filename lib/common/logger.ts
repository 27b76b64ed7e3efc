import { Logger } from "@aws-lambda-powertools/logger";

/** One structured logger for every function; per-request keys are appended by the handlers. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "flywheel" });
