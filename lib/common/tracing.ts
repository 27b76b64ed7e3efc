import { Tracer } from "@aws-lambda-powertools/tracer";

/**
 * X-Ray tracing through Powertools Tracer. It switches itself on only inside Lambda (and off
 * with `POWERTOOLS_TRACE_ENABLED=false`), so tests and `npm start` trace nothing. Inside Lambda,
 * with the function's active tracing, every AWS SDK call of a client passed to `traced` is a
 * subsegment (DynamoDB, S3, SQS, Secrets Manager, Bedrock), as is every outgoing HTTP request and
 * `fetch` (an OpenAI-compatible or Ollama judge), and `inSpan` adds one around a piece of work of
 * ours (a judge call, with its backend annotated).
 */
export const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "flywheel" });

/** `client` with each of its calls recorded as a subsegment while tracing is on. */
export function traced<T>(client: T): T {
  return tracer.isTracingEnabled() ? tracer.captureAWSv3Client(client) : client;
}

/**
 * Runs `work` in a subsegment named `name` with `annotations` (searchable in X-Ray; bounded
 * values only), its error recorded on it; without tracing, just runs it.
 */
export async function inSpan<T>(
  name: string,
  annotations: Readonly<Record<string, string | number | boolean>>,
  work: () => Promise<T>,
): Promise<T> {
  if (!tracer.isTracingEnabled() || !tracer.getSegment()) return work();
  return (await tracer.provider.captureAsyncFunc(name, async (subsegment) => {
    for (const [key, value] of Object.entries(annotations)) subsegment?.addAnnotation(key, value);
    try {
      return await work();
    } catch (error) {
      subsegment?.addError(error as Error);
      throw error;
    } finally {
      subsegment?.close();
    }
  })) as T;
}
