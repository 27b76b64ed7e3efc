import { describe, expect, it } from "vitest";
import { KTO_CHECKED_BATCH_SIZE, KtoOrder, type OrderedLine } from "../../../lib/exports/domain/kto-order.ts";

interface Line {
  readonly candidate: number;
  readonly prompt: string;
  readonly label: boolean;
}

/**
 * TRL's `_get_kl_dataset`, literally: the lines cut in file order into chunks of `batchSize`, each
 * line given the completion of the line before it in its chunk (the first, the chunk's last). A
 * one-line chunk is left as it is (TRL's own test skips it). The pairs whose prompt is the prompt
 * their borrowed completion was written for.
 */
function klPairsSharingPrompt(lines: readonly Line[], batchSize: number): [number, number][] {
  const shared: [number, number][] = [];
  for (let start = 0; start < lines.length; start += batchSize) {
    const chunk = lines.slice(start, start + batchSize);
    if (chunk.length < 2) continue;
    chunk.forEach((line, i) => {
      const lender = (i - 1 + chunk.length) % chunk.length;
      if ((chunk[lender] as Line).prompt === line.prompt) shared.push([start + lender, start + i]);
    });
  }
  return shared;
}

/** Runs `count` candidates through the order; `promptOf` names each one's prompt. */
function ordered(count: number, promptOf: (candidate: number) => string = (c) => `prompt ${c}`) {
  const order = new KtoOrder();
  const out: OrderedLine[] = [];
  for (let c = 0; c < count; c += 1) {
    const prompt = [{ role: "user", content: promptOf(c) }];
    const line = (label: boolean) => ({ recordId: `${c}-${label}`, line: { prompt, label, candidate: c } });
    out.push(...order.push({ candidateId: `cand-${c}`, prompt, lines: [line(false), line(true)] }));
  }
  out.push(...order.finish());
  const lines = out.map(({ line }) => {
    const { prompt, label, candidate } = line as {
      prompt: { content: string }[];
      label: boolean;
      candidate: number;
    };
    return { candidate, label, prompt: prompt[0]?.content as string };
  });
  return { lines, collisions: order.collisions };
}

const BATCH_SIZES = Array.from({ length: KTO_CHECKED_BATCH_SIZE - 1 }, (_, i) => i + 2);

describe("trl-kto line order against TRL's KL pairs", () => {
  it.each([63, 64, 65, 100, 127, 128, 129, 200, 333, 1000])(
    "%i candidates with distinct prompts: no KL pair at any batch size 2-64 shares a prompt",
    (count) => {
      const { lines, collisions } = ordered(count);
      expect(lines).toHaveLength(2 * count);
      for (let i = 1; i < lines.length; i += 1) {
        expect(lines[i]?.prompt, `lines ${i} and ${i + 1}`).not.toBe(lines[i - 1]?.prompt);
      }
      for (const size of BATCH_SIZES) expect(klPairsSharingPrompt(lines, size), `batch ${size}`).toEqual([]);
      expect(collisions).toBe(0);
    },
  );

  it("writing a candidate's two lines side by side, as before, would pair half the lines with their own prompt", () => {
    const sideBySide = Array.from({ length: 200 }, (_, i) => ({
      candidate: i >> 1,
      label: i % 2 === 1,
      prompt: `prompt ${i >> 1}`,
    }));
    expect(klPairsSharingPrompt(sideBySide, 8)).toHaveLength(100);
  });

  it.each([
    ["two models asked the same question, one after the other", (c: number) => `question ${c >> 1}`],
    ["seven questions asked in turn", (c: number) => `question ${c % 7}`],
    ["one question asked 40 times in a row", (c: number) => (c >= 100 && c < 140 ? "hot" : `question ${c}`)],
  ])(
    "with shared prompts (%s): no two adjacent lines share one, and the manifest counts exactly the KL pairs that do",
    (_, prompt) => {
      const { lines, collisions } = ordered(300, prompt);
      for (let i = 1; i < lines.length; i += 1) {
        expect(lines[i]?.prompt, `lines ${i} and ${i + 1}`).not.toBe(lines[i - 1]?.prompt);
      }
      const shared = new Set(
        BATCH_SIZES.flatMap((size) =>
          klPairsSharingPrompt(lines, size).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
        ),
      );
      expect(collisions).toBe(shared.size);
      // Far fewer than side by side, where every candidate's own two lines pair at every batch size.
      expect(collisions).toBeLessThan(300);
    },
  );

  it("counts, rather than hides, the pairs no order can avoid", () => {
    // Up to 64 lines, the first line pairs with every other at some batch size: its own other line too.
    for (const count of [1, 2, 5, 32]) {
      const { lines, collisions } = ordered(count);
      const shared = new Set(
        BATCH_SIZES.flatMap((size) =>
          klPairsSharingPrompt(lines, size).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
        ),
      );
      expect(collisions, `${count} candidates`).toBe(shared.size);
      expect(collisions, `${count} candidates`).toBeGreaterThan(0);
    }
  });

  it("writes every line once, alternates labels, and keeps candidate k's undesirable line at line 2k + 1", () => {
    const { lines } = ordered(200);
    expect(lines.map((l) => l.label)).toEqual(lines.map((_, i) => i % 2 === 1));
    lines.forEach((line, i) => {
      if (!line.label) expect(line.candidate).toBe(i / 2);
    });
    const seen = new Set(lines.map((l) => `${l.candidate}-${l.label}`));
    expect(seen.size).toBe(400);
  });

  it("is deterministic: the same candidates in the same order give the same lines", () => {
    const prompt = (c: number) => `q${c % 7}`;
    expect(ordered(150, prompt)).toEqual(ordered(150, prompt));
  });
});
