import { AsyncLocalStorage } from "node:async_hooks";
import { Logger, type LogItem, LogLevelThreshold } from "@aws-lambda-powertools/logger";
import type {
  ConstructorOptions,
  LogItemExtraInput,
  LogItemMessage,
} from "@aws-lambda-powertools/logger/types";

/** Keys a log line carries for the work it belongs to (`correlation_id`, `request_id`, `import_id`, …). */
export type LogKeys = Readonly<Record<string, string | number | undefined>>;

const scopes = new AsyncLocalStorage<Record<string, string | number>>();

/**
 * Runs `work` with `keys` on every line logged while it runs, however deep and across every
 * await: an HTTP request's id, an SQS record's message id. Scopes nest (the inner adds its keys
 * to the outer's) and concurrent scopes never see each other's keys, so the records of one batch
 * processed in parallel, or two requests served at once by the local runtime, stay apart.
 */
export function withLogKeys<T>(keys: LogKeys, work: () => T): T {
  return scopes.run({ ...scopes.getStore(), ...defined(keys) }, work);
}

/**
 * Adds keys to the current scope once they are known (an import's id once its object is open,
 * an export's id once its message is read): every later line of that work carries them. Outside
 * a scope it does nothing.
 */
export function appendLogKeys(keys: LogKeys): void {
  const scope = scopes.getStore();
  if (scope) Object.assign(scope, defined(keys));
}

/** The keys of the current scope. */
export function currentLogKeys(): Readonly<Record<string, string | number>> {
  return { ...scopes.getStore() };
}

function defined(keys: LogKeys): Record<string, string | number> {
  return Object.fromEntries(Object.entries(keys).filter(([, value]) => value !== undefined)) as Record<
    string,
    string | number
  >;
}

/** The fields of Powertools' log item that a person reading a terminal does not need. */
const LAMBDA_FIELDS = new Set([
  "level",
  "message",
  "timestamp",
  "service",
  "cold_start",
  "function_arn",
  "function_memory_size",
  "function_name",
  "function_request_id",
  "sampling_rate",
  "xray_trace_id",
  "tenant_id",
  "error",
]);

/** `12:01:02.345 WARN  correction quarantined  correlation_id=… reason=invalid_json`, then an error's stack. */
export function prettyLogLine(attributes: Readonly<Record<string, unknown>>): string {
  const time = typeof attributes.timestamp === "string" ? attributes.timestamp.slice(11, 23) : "";
  const keys = Object.entries(attributes)
    .filter(([key, value]) => !LAMBDA_FIELDS.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  const head = [time, String(attributes.level ?? "").padEnd(5), String(attributes.message ?? "")]
    .filter((part) => part !== "")
    .join(" ");
  let line = keys.length > 0 ? `${head}  ${keys.join(" ")}` : head;
  const error = attributes.error as { name?: string; message?: string; stack?: string } | undefined;
  if (error && typeof error === "object") {
    const text = error.stack ?? `${error.name ?? "Error"}: ${error.message ?? ""}`;
    line += `\n${text.replace(/^/gm, "    ")}`;
  }
  return `${line}\n`;
}

/**
 * Powertools' logger, with the keys of the current scope (`withLogKeys`) on every line (a key the
 * line sets itself wins), printed as structured JSON (in AWS, one object per line, which
 * CloudWatch Logs Insights reads) or as one readable line (`pretty`, on a laptop).
 */
export class FlywheelLogger extends Logger {
  constructor(
    options: ConstructorOptions,
    private readonly pretty: boolean,
    private readonly write: (stream: "stdout" | "stderr", text: string) => void = (stream, text) =>
      process[stream].write(text),
  ) {
    super(options);
  }

  protected override createAndPopulateLogItem(
    logLevel: number,
    input: LogItemMessage,
    extraInput: LogItemExtraInput,
  ): LogItem {
    const item = super.createAndPopulateLogItem(logLevel, input, extraInput);
    const scope = scopes.getStore();
    if (scope) {
      const present = item.getAttributes();
      item.addAttributes(Object.fromEntries(Object.entries(scope).filter(([key]) => !(key in present))));
    }
    return item;
  }

  protected override printLog(logLevel: number, log: LogItem): void {
    if (!this.pretty) {
      super.printLog(logLevel, log);
      return;
    }
    log.prepareForPrint();
    const attributes = JSON.parse(JSON.stringify(log.getAttributes(), this.getJsonReplacer())) as Record<
      string,
      unknown
    >;
    this.write(logLevel >= LogLevelThreshold.WARN ? "stderr" : "stdout", prettyLogLine(attributes));
  }
}

/**
 * Readable lines unless `FLYWHEEL_LOG_FORMAT=json`, or in Lambda (`AWS_LAMBDA_FUNCTION_NAME` set)
 * unless `FLYWHEEL_LOG_FORMAT=pretty`.
 */
export function prettyLogsWanted(env: Record<string, string | undefined> = process.env): boolean {
  if (env.FLYWHEEL_LOG_FORMAT === "json") return false;
  if (env.FLYWHEEL_LOG_FORMAT === "pretty") return true;
  return !env.AWS_LAMBDA_FUNCTION_NAME;
}

/** One logger for every function; the work's keys come from `withLogKeys` scopes. */
export const logger: Logger = new FlywheelLogger(
  { serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "flywheel" },
  prettyLogsWanted(),
);
