/**
 * What every benchmark section shares: rows that remember the command that measured them, merged
 * by size across runs (a separate run at a million adds its rows to the default sizes' rows), and
 * the growth table: cost per operation at the largest size ÷ at the smallest (the target is flat).
 */

export interface Provenance {
  readonly measuredAt?: string;
  readonly command?: string;
}

export interface Section<Row> extends Provenance {
  readonly rows: Row[];
}

/** The previous rows whose size was not measured again, then the fresh rows, ordered by size. */
export function mergeRows<Row>(
  previous: Section<Row> | undefined,
  fresh: readonly Row[],
  sizeOf: (row: Row) => number,
  provenance: Required<Provenance>,
): Section<Row & Provenance> {
  const measured = new Set(fresh.map(sizeOf));
  const kept = (previous?.rows ?? [])
    .filter((row) => !measured.has(sizeOf(row)))
    .map((row) => ({ measuredAt: previous?.measuredAt, command: previous?.command, ...row }));
  const rows = [...kept, ...fresh.map((row) => ({ ...row, ...provenance }))];
  // Stable: rows of one size keep their order (the review section has one per operation).
  rows.sort((a, b) => sizeOf(a) - sizeOf(b));
  return { ...provenance, rows };
}

/**
 * The commands that measured a section's rows, each with when and, given `sizeOf`, the sizes it
 * measured, as the report's first lines.
 */
export function measuredBy<Row>(section: Section<Row>, sizeOf?: (row: Row) => number): string[] {
  const seen = new Map<string, { at: string; sizes: Set<number> }>();
  for (const row of section.rows as (Row & Provenance)[]) {
    const command = row.command ?? section.command;
    if (!command) continue;
    const entry = seen.get(command) ?? { at: row.measuredAt ?? section.measuredAt ?? "", sizes: new Set() };
    if (sizeOf) entry.sizes.add(sizeOf(row));
    seen.set(command, entry);
  }
  return [...seen].map(([command, { at, sizes }]) => {
    const rows = sizes.size > 0 ? ` (${[...sizes].join(", ")})` : "";
    return `\`${command}\`${rows} — ${at}.`;
  });
}

export interface Metric<Row> {
  readonly name: string;
  readonly value: (row: Row) => number;
}

export interface Growth {
  readonly smallest: number;
  readonly largest: number;
  readonly ratios: readonly { readonly metric: string; readonly ratio: number }[];
}

/** Each metric at the largest size ÷ at the smallest; `undefined` with fewer than two sizes. */
export function growth<Row>(
  rows: readonly Row[],
  sizeOf: (row: Row) => number,
  metrics: readonly Metric<Row>[],
): Growth | undefined {
  const sizes = [...new Set(rows.map(sizeOf))].sort((a, b) => a - b);
  const smallest = sizes[0];
  const largest = sizes.at(-1);
  if (smallest === undefined || largest === undefined || smallest === largest) return undefined;
  const at = (size: number) => rows.find((row) => sizeOf(row) === size) as Row;
  return {
    smallest,
    largest,
    ratios: metrics.map((metric) => ({
      metric: metric.name,
      ratio: metric.value(at(largest)) / metric.value(at(smallest)),
    })),
  };
}

/** The growth table in the report, after a sentence saying what is divided by what. */
export function renderGrowth(table: Growth | undefined, unit: string, target: string): string[] {
  if (!table) return [];
  return [
    `Growth: each figure at ${table.largest} ÷ at ${table.smallest} ${unit} (${target}).`,
    "",
    "| figure | ratio |",
    "|---|---:|",
    ...table.ratios.map(({ metric, ratio }) => `| ${metric} | ${ratio.toFixed(2)} |`),
    "",
  ];
}

/** The growth table on the console, as the run finishes a section. */
export function printGrowth(section: string, table: Growth | undefined): void {
  if (!table) return;
  console.log(`  growth ${section}, ${table.largest} ÷ ${table.smallest}:`);
  for (const { metric, ratio } of table.ratios) console.log(`    ${metric}: ${ratio.toFixed(2)}`);
}
