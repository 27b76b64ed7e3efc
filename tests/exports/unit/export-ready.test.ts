import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { candidateItem } from "../../../lib/common/adapters/candidate-table.ts";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import { type CountedCandidate, isExportReady } from "../../../lib/common/domain/stats.ts";
import { sftPromptProblem } from "../../../lib/common/domain/trainable.ts";
import { ExportFirewall } from "../../../lib/exports/domain/export-firewall.ts";
import { approvedCandidate } from "../../support/review-fakes.ts";

const firewall = () => new ExportFirewall({ format: "openai-sft", options: {} as never, filters: {} });

const text = fc.oneof(fc.constantFrom("", " ", "\n\t", "hi", "Classify: x", "2 + 2?"), fc.string());
const role = fc.constantFrom("system", "user", "assistant", "tool", "", "User", "developer");
const message = fc.oneof(
  { weight: 8, arbitrary: fc.record({ role, content: text }) },
  { weight: 1, arbitrary: fc.record({ role }) },
  { weight: 1, arbitrary: fc.constantFrom(null, "user: hi", 3, [], { content: "x" }) },
);
const prompt = fc.oneof(
  { weight: 8, arbitrary: fc.array(message, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, "hello", { role: "user" }) },
);
const provenanceChange = fc.constantFrom<Record<string, unknown>>(
  {},
  { model: null },
  { model: "  " },
  { source: "" },
  { approved_by: null },
  { approved_at: "yesterday" },
  { approved: false },
  { channel: "carrier-pigeon" },
  { line: 0 },
);

/** A stored candidate, as the store holds it after `candidateItem`, from generated parts. */
const storedRecord = fc
  .record({
    status: fc.constantFrom("approved", "approved", "approved", "needs_review", "discarded"),
    correction: fc.option(text, { nil: null }),
    prompt,
    change: provenanceChange,
  })
  .map(({ status, correction, prompt, change }) => {
    const base = approvedCandidate("c1");
    const candidate = {
      ...base,
      status,
      corrected_response: correction,
      prompt_messages: prompt,
      provenance: { ...base.provenance, ...change },
    } as unknown as Candidate;
    return candidateItem(candidate);
  });

describe("export_ready", () => {
  it("counts a record exactly when the firewall lets it through an openai-sft export", () => {
    fc.assert(
      fc.property(storedRecord, (item) => {
        const verdict = firewall().screen(item);
        const detail = verdict.passed ? "passed" : `${verdict.entry.reason}: ${verdict.entry.detail}`;
        expect(isExportReady(item as unknown as CountedCandidate), detail).toBe(verdict.passed);
      }),
      { numRuns: 2_000 },
    );
  });

  it("judges the prompt as the firewall does, naming the problem", () => {
    expect(sftPromptProblem([{ role: "user", content: "hi" }])).toBeNull();
    expect(
      sftPromptProblem([
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ]),
    ).toBeNull();
    expect(sftPromptProblem([])).toBe("the prompt has no messages");
    expect(sftPromptProblem(null)).toBe("the prompt has no messages");
    expect(sftPromptProblem([{ role: "user", content: " " }])).toBe("prompt message 1 is blank");
    expect(sftPromptProblem([{ role: "tool", content: "x" }])).toBe('a prompt message has role "tool"');
    expect(sftPromptProblem([{ role: "system", content: "x" }])).toBe(
      "the first message after the system prompt is not from the user",
    );
    expect(
      sftPromptProblem([
        { role: "assistant", content: "x" },
        { role: "user", content: "y" },
      ]),
    ).toBe("the first message after the system prompt is not from the user");
  });

  it("is stored beside the candidate, whatever the uploaded line claimed", () => {
    const claimed = { ...approvedCandidate("c1"), prompt_messages: [], prompt_ready: true } as Candidate;
    expect(candidateItem(claimed).prompt_ready).toBe(false);
  });
});
