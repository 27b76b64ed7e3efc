import type { Context, SQSRecord } from "aws-lambda";
import { logger, withLogKeys } from "./logger.ts";
import { type Metrics, metrics as processMetrics } from "./metrics.ts";
import { currentSegment, tracer } from "./tracing.ts";

/**
 * Wraps a Lambda handler with what every invocation needs: the invocation's context on the
 * logger, a `## handler` subsegment annotated with cold start and service while tracing is on,
 * and the metrics recorded during the invocation flushed when it ends, however it ends.
 */
export function observedHandler<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
  metrics: Metrics = processMetrics,
): (event: E, context: Context) => Promise<R> {
  return async (event, context) => {
    logger.addContext(context);
    const segment = currentSegment();
    const subsegment = segment?.addNewSubsegment("## handler");
    if (tracer && subsegment) {
      tracer.setSegment(subsegment);
      tracer.annotateColdStart();
      tracer.addServiceNameAnnotation();
    }
    try {
      return await handler(event, context);
    } catch (error) {
      subsegment?.addError(error as Error);
      throw error;
    } finally {
      metrics.flush();
      if (tracer && segment && subsegment) {
        subsegment.close();
        tracer.setSegment(segment);
      }
    }
  };
}

/**
 * An SQS record handler whose every log line carries the record's message id, as
 * `correlation_id` and `message_id`; the work adds its own ids (`appendLogKeys`) once known.
 */
export function correlatedRecords<C extends unknown[]>(
  handler: (record: SQSRecord, ...rest: C) => Promise<void>,
): (record: SQSRecord, ...rest: C) => Promise<void> {
  return (record, ...rest) =>
    withLogKeys({ correlation_id: record.messageId, message_id: record.messageId }, () =>
      handler(record, ...rest),
    );
}
