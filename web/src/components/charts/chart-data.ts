/** One line or one set of bars: a name and a value per label (`null` where there is none). */
export interface ChartSeries {
  readonly name: string;
  readonly values: readonly (number | null)[];
}

export interface ChartData {
  readonly labels: readonly string[];
  readonly series: readonly ChartSeries[];
}

/**
 * `{ reason: count }` as one series, largest first (ties by name), at most `limit` labels with
 * the rest summed into "other".
 */
export function fromCounts(
  counts: Readonly<Record<string, number>> | null | undefined,
  name: string,
  limit = 12,
): ChartData {
  const entries = Object.entries(counts ?? {})
    .filter(([, value]) => Number.isFinite(value))
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  const shown = entries.slice(0, limit);
  const rest = entries.slice(limit).reduce((sum, [, value]) => sum + value, 0);
  if (entries.length > limit) shown.push(["other", rest]);
  return {
    labels: shown.map(([label]) => label),
    series: [{ name, values: shown.map(([, value]) => value) }],
  };
}

/** A sentence that says what the chart shows, for its accessible name and for its caption's reader. */
export function describeChart(
  title: string,
  data: ChartData,
  format: (n: number) => string = String,
): string {
  if (data.labels.length === 0) return `${title}: no data.`;
  const parts = data.series.map((series) => {
    const points = data.labels
      .map((label, i) => {
        const value = series.values[i];
        return value === null || value === undefined ? null : `${label} ${format(value)}`;
      })
      .filter((point): point is string => point !== null);
    const head = data.series.length > 1 ? `${series.name}: ` : "";
    const shown = points.slice(0, 8).join(", ");
    return `${head}${shown}${points.length > 8 ? `, and ${points.length - 8} more` : ""}`;
  });
  return `${title}. ${parts.join("; ")}.`;
}
