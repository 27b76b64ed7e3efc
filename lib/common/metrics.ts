import { Metrics as PowertoolsMetrics } from "@aws-lambda-powertools/metrics";

/**
 * What the system counts, behind one small port: use cases record counts and timings through
 * `Metrics`, and the process decides where they go (CloudWatch embedded metric format in AWS,
 * nowhere or a readable line locally, a recording in tests).
 *
 * Dimensions stay bounded by construction: every metric has its capability, and at most one
 * further dimension whose value comes from a closed list declared with the metric (a quarantine
 * reason, a review action). A value outside that list is counted as `other`, so no run id, model
 * or free text can ever become a dimension.
 */

/** The capabilities a metric belongs to: the `capability` dimension. */
export const METRIC_CAPABILITIES = ["import", "ingest", "review", "exports", "eval"] as const;
export type MetricCapability = (typeof METRIC_CAPABILITIES)[number];

/** The CloudWatch namespace the stack sets (`POWERTOOLS_METRICS_NAMESPACE`). */
export const METRICS_NAMESPACE = "Flywheel";

/** The value a dimension takes when the value given is not in the metric's closed list. */
export const OTHER_DIMENSION_VALUE = "other";

export interface MetricSpec<V extends string = string> {
  readonly name: string;
  readonly capability: MetricCapability;
  readonly unit: "Count" | "Milliseconds";
  /** The one further dimension, with the closed list its values come from. */
  readonly dimension?: { readonly name: string; readonly values: readonly V[] };
}

/** Declares a count, optionally broken down by a dimension whose values are `values`. */
export function countMetric<V extends string = never>(
  name: string,
  capability: MetricCapability,
  dimension?: { readonly name: string; readonly values: readonly V[] },
): MetricSpec<V> {
  return { name, capability, unit: "Count", ...(dimension ? { dimension } : {}) };
}

/** Declares a duration in milliseconds (each value kept, so CloudWatch has percentiles). */
export function timeMetric(name: string, capability: MetricCapability): MetricSpec<never> {
  return { name, capability, unit: "Milliseconds" };
}

/** The port use cases record through. */
export interface Metrics {
  /**
   * Adds `value` to a count. With a dimension value (from the metric's list), the count is
   * recorded under that value and in the metric's total.
   */
  count<V extends string>(metric: MetricSpec<V>, value?: number, dimensionValue?: V): void;
  /** Records one duration. */
  time(metric: MetricSpec<never>, ms: number): void;
  /** Sends what was recorded since the last flush (at the end of each invocation). */
  flush(): void;
}

/** One recorded data point, dimensions resolved. */
export interface MetricPoint {
  readonly name: string;
  readonly unit: MetricSpec["unit"];
  readonly value: number;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** The points a recording stands for: the total under `capability`, and the breakdown. */
export function pointsOf(metric: MetricSpec, value: number, dimensionValue?: string): MetricPoint[] {
  const base = { name: metric.name, unit: metric.unit, value };
  const total: MetricPoint = { ...base, dimensions: { capability: metric.capability } };
  if (!metric.dimension || dimensionValue === undefined) return [total];
  const known = (metric.dimension.values as readonly string[]).includes(dimensionValue);
  return [
    total,
    {
      ...base,
      dimensions: {
        capability: metric.capability,
        [metric.dimension.name]: known ? dimensionValue : OTHER_DIMENSION_VALUE,
      },
    },
  ];
}

/** Collects points until flushed and hands each flush's points to `publish`. */
abstract class BufferedMetrics implements Metrics {
  private buffer: MetricPoint[] = [];

  count<V extends string>(metric: MetricSpec<V>, value = 1, dimensionValue?: V): void {
    if (value === 0) return;
    this.buffer.push(...pointsOf(metric, value, dimensionValue));
  }

  time(metric: MetricSpec<never>, ms: number): void {
    this.buffer.push(...pointsOf(metric, Math.max(0, Math.round(ms))));
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    const points = this.buffer;
    this.buffer = [];
    this.publish(points);
  }

  protected abstract publish(points: readonly MetricPoint[]): void;
}

/** Drops everything: the default wherever no namespace is configured (tests, `npm start`). */
export class NoMetrics implements Metrics {
  count(): void {}
  time(): void {}
  flush(): void {}
}

/** Keeps every point recorded, and how many flushes there were: for tests. */
export class RecordingMetrics implements Metrics {
  readonly points: MetricPoint[] = [];
  /** Points recorded before the last flush. */
  flushedPoints = 0;

  count<V extends string>(metric: MetricSpec<V>, value = 1, dimensionValue?: V): void {
    if (value !== 0) this.points.push(...pointsOf(metric, value, dimensionValue));
  }

  time(metric: MetricSpec<never>, ms: number): void {
    this.points.push(...pointsOf(metric, Math.max(0, Math.round(ms))));
  }

  flush(): void {
    this.flushedPoints = this.points.length;
  }

  /**
   * The sum recorded for `metric`: its total, or with `dimensionValue` the part under that
   * value (`other` for one outside the metric's list).
   */
  total(metric: MetricSpec, dimensionValue?: string): number {
    const dimension = metric.dimension?.name;
    return this.points
      .filter((point) => point.name === metric.name)
      .filter((point) =>
        dimensionValue === undefined || dimension === undefined
          ? Object.keys(point.dimensions).length === 1
          : point.dimensions[dimension] === dimensionValue,
      )
      .reduce((sum, point) => sum + point.value, 0);
  }
}

/**
 * CloudWatch embedded metric format through Powertools Metrics: one EMF document per dimension
 * set per flush, on stdout, which Lambda's log pipeline turns into metrics without an API call.
 * Counts of the same name and dimensions are summed; durations are kept as values.
 */
export class EmfMetrics extends BufferedMetrics {
  private readonly emitters = new Map<string, PowertoolsMetrics>();

  constructor(
    private readonly namespace: string,
    private readonly serviceName: string,
  ) {
    super();
  }

  protected publish(points: readonly MetricPoint[]): void {
    const groups = new Map<string, { dimensions: Record<string, string>; points: MetricPoint[] }>();
    for (const point of points) {
      const key = JSON.stringify(Object.entries(point.dimensions).sort());
      const group = groups.get(key) ?? { dimensions: { ...point.dimensions }, points: [] };
      group.points.push(point);
      groups.set(key, group);
    }
    for (const [key, group] of groups) {
      const emitter = this.emitterFor(key, group.dimensions);
      const sums = new Map<string, number>();
      for (const point of group.points) {
        if (point.unit === "Count") sums.set(point.name, (sums.get(point.name) ?? 0) + point.value);
        else emitter.addMetric(point.name, point.unit, point.value);
      }
      for (const [name, sum] of sums) emitter.addMetric(name, "Count", sum);
      emitter.publishStoredMetrics();
    }
  }

  /** One Powertools instance per dimension set (their number is bounded by the closed lists). */
  private emitterFor(key: string, dimensions: Record<string, string>): PowertoolsMetrics {
    let emitter = this.emitters.get(key);
    if (!emitter) {
      emitter = new PowertoolsMetrics({
        namespace: this.namespace,
        serviceName: this.serviceName,
        defaultDimensions: dimensions,
      });
      this.emitters.set(key, emitter);
    }
    return emitter;
  }
}

/** One readable line per flush on stderr: `FLYWHEEL_METRICS=print` under `npm start`. */
export class PrintedMetrics extends BufferedMetrics {
  constructor(private readonly write: (line: string) => void = (line) => process.stderr.write(line)) {
    super();
  }

  protected publish(points: readonly MetricPoint[]): void {
    // A count broken down is printed by its parts; its total would repeat them.
    const brokenDown = new Set(
      points.filter((point) => Object.keys(point.dimensions).length > 1).map((point) => point.name),
    );
    const parts = points
      .filter((point) => Object.keys(point.dimensions).length > 1 || !brokenDown.has(point.name))
      .map((point) => {
        const extra = Object.entries(point.dimensions)
          .filter(([name]) => name !== "capability")
          .map(([name, value]) => `${name}=${value}`);
        const label = extra.length > 0 ? `${point.name}{${extra.join(",")}}` : point.name;
        return `${label}=${point.value}${point.unit === "Milliseconds" ? "ms" : ""}`;
      });
    this.write(`metrics ${parts.join(" ")}\n`);
  }
}

/**
 * The metrics of this process, chosen from its environment: `FLYWHEEL_METRICS` (`emf`, `print`
 * or `off`) when set; otherwise EMF when `POWERTOOLS_METRICS_NAMESPACE` is set (the stack sets it
 * on every function), and nothing otherwise, so a laptop's stdout carries no EMF documents.
 */
export function metricsFromEnvironment(env: Record<string, string | undefined> = process.env): Metrics {
  const namespace = env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE;
  const service = env.POWERTOOLS_SERVICE_NAME || "flywheel";
  const mode = env.FLYWHEEL_METRICS ?? (env.POWERTOOLS_METRICS_NAMESPACE ? "emf" : "off");
  if (mode === "emf") return new EmfMetrics(namespace, service);
  if (mode === "print") return new PrintedMetrics();
  return new NoMetrics();
}

/** The process's metrics, flushed by `observed` handlers at the end of each invocation. */
export const metrics: Metrics = metricsFromEnvironment();
