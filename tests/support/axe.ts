import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

const require = createRequire(import.meta.url);
let source: Promise<string> | undefined;

/** axe-core's browser bundle, read once. */
const axeSource = () => {
  source ??= readFile(require.resolve("axe-core/axe.min.js"), "utf8");
  return source;
};

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly helpUrl: string;
  readonly nodes: readonly { readonly target: readonly unknown[]; readonly failureSummary?: string }[];
}

export interface AxeOptions {
  /** Rule ids to leave out, each with a reason the caller must give. */
  readonly skip?: Readonly<Record<string, string>>;
  /** A CSS selector to check instead of the whole document. */
  readonly include?: string;
}

/** The WCAG 2.0/2.1/2.2 A and AA rules plus axe's best practices. */
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];

/** Runs axe-core in the page as it is now and returns its violations. */
export async function axeViolations(page: Page, options: AxeOptions = {}): Promise<AxeViolation[]> {
  const loaded = await page.evaluate(() => typeof (globalThis as { axe?: unknown }).axe === "object");
  if (!loaded) await page.addScriptTag({ content: await axeSource() });
  return page.evaluate(
    async ({ tags, skip, include }) => {
      const browser = globalThis as unknown as {
        axe: { run: (...args: unknown[]) => Promise<unknown> };
        document: unknown;
      };
      const axe = browser.axe;
      const rules = Object.fromEntries(skip.map((id) => [id, { enabled: false }]));
      const result = (await axe.run(include ? { include: [include] } : browser.document, {
        runOnly: { type: "tag", values: tags },
        rules,
        resultTypes: ["violations"],
      })) as { violations: AxeViolation[] };
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
      }));
    },
    { tags: TAGS, skip: Object.keys(options.skip ?? {}), include: options.include ?? null },
  );
}

/** One readable line per violating element: rule, impact, what to fix, where. */
export function formatViolations(violations: readonly AxeViolation[]): string {
  return violations
    .flatMap((v) =>
      v.nodes.map(
        (node) =>
          `${v.id} (${v.impact ?? "n/a"}): ${v.help} at ${JSON.stringify(node.target)}` +
          (node.failureSummary ? `\n    ${node.failureSummary.replace(/\n/g, "\n    ")}` : ""),
      ),
    )
    .join("\n");
}

/**
 * Fails, listing every violation, when axe-core finds an accessibility problem on the page as it
 * is now. Wait for the page's content before calling it: an empty page passes trivially.
 */
export async function expectAccessible(page: Page, what: string, options: AxeOptions = {}): Promise<void> {
  const violations = await axeViolations(page, options);
  if (violations.length > 0) {
    throw new Error(
      `${what}: ${violations.length} accessibility rule(s) violated\n${formatViolations(violations)}`,
    );
  }
}
