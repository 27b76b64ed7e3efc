import type { Tracer } from "@aws-lambda-powertools/tracer";

/**
 * Whether this process traces: inside Lambda (`AWS_EXECUTION_ENV`), unless
 * `POWERTOOLS_TRACE_ENABLED=false`. Tests, benchmarks in process and `npm start` never do.
 */
export function tracingWanted(env: Record<string, string | undefined> = process.env): boolean {
  return (env.AWS_EXECUTION_ENV ?? "").startsWith("AWS_Lambda_") && env.POWERTOOLS_TRACE_ENABLED !== "false";
}

/**
 * X-Ray tracing through Powertools Tracer, loaded only when the process traces: the X-Ray SDK
 * behind it is evaluated at a cold start in Lambda and never on a laptop. With the function's
 * active tracing, every AWS SDK call of a client passed to `traced` is a subsegment (DynamoDB, S3,
 * SQS), as is every outgoing HTTP request and `fetch` (Bedrock, an OpenAI-compatible or Ollama
 * judge), and `inSpan` adds one around a piece of work of ours (a judge call, its backend
 * annotated). Undefined when the process does not trace.
 */
export const tracer: Tracer | undefined = tracingWanted() ? await loadTracer() : undefined;

async function loadTracer(): Promise<Tracer> {
  const { Tracer } = await import("@aws-lambda-powertools/tracer");
  const loaded = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "flywheel" });
  // Lambda hands every invocation a trace; a call made outside one (a stand-in of the Lambda
  // runtime that passes none) is simply not traced, rather than logged as an error.
  loaded.provider.setContextMissingStrategy(() => undefined);
  return loaded;
}

/** The invocation's segment, when tracing and Lambda passed a trace (`_X_AMZN_TRACE_ID`). */
export function currentSegment() {
  return tracer?.isTracingEnabled() && process.env._X_AMZN_TRACE_ID ? tracer.getSegment() : undefined;
}

/** `client` with each of its calls recorded as a subsegment while tracing is on. */
export function traced<T>(client: T): T {
  return tracer?.isTracingEnabled() ? tracer.captureAWSv3Client(client) : client;
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
  if (!tracer || !currentSegment()) return work();
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
