import { describe, expect, it } from "vitest";
import { CANDIDATE_STATUSES } from "../../../lib/common/domain/candidate.ts";
import { validateProvenance } from "../../../lib/common/domain/provenance.ts";
import {
  contentFingerprint,
  EXCLUSION_REASONS,
  ExportFirewall,
  normalise,
  type QuarantineEntry,
} from "../../../lib/exports/domain/export-firewall.ts";
import {
  EXPORT_FORMATS,
  type ExportFormat,
  ExportRequest,
} from "../../../lib/exports/domain/export-request.ts";
import { FingerprintSet } from "../../../lib/exports/domain/fingerprint-set.ts";
import { expectationFor, reviewed, seededMix } from "../../support/export-fixtures.ts";

/**
 * What the firewall must decide. `bedrock-preference` is a pair format under Bedrock's rules: the
 * pair checks (blank or identical answers) come first, then Bedrock's trainer rules.
 */
function expected(seeded: Parameters<typeof expectationFor>[0], format: ExportFormat) {
  const bedrock = expectationFor(seeded, "bedrock-conversation");
  const rule = typeof bedrock === "object" ? bedrock.rule : null;
  // Nova RFT: Bedrock's reserved strings, but no alternation asked of the prompt.
  if (format === "bedrock-rft") return rule === "turns_not_alternating" ? "exported" : bedrock;
  // Vertex: Bedrock's shape of a conversation, without its reserved strings.
  if (format === "vertex-gemini") {
    return rule === "bedrock_reserved_string" ? expectationFor(seeded, "openai-sft") : bedrock;
  }
  if (format !== "bedrock-preference") return expectationFor(seeded, format);
  const pair = expectationFor(seeded, "openai-preference");
  return pair === "exported" || typeof pair === "object"
    ? expectationFor(seeded, "bedrock-conversation")
    : pair;
}

function firewallFor(format: ExportFormat, filters: Record<string, unknown> = {}) {
  const request = ExportRequest.parse({ format, filters });
  return new ExportFirewall({ format, options: request.options, filters: request.filters });
}

describe("the firewall over a seeded mix of every status and every fault", () => {
  describe.each(EXPORT_FORMATS)("%s", (format) => {
    const mix = seededMix();
    const firewall = firewallFor(format, { exclude_categories: ["scoring_artifact"] });
    const verdicts = mix.map(({ candidate }) => ({ candidate, verdict: firewall.screen(candidate) }));

    it("decides every record as expected, naming the reason (and rule) of each exclusion", () => {
      const decided = verdicts.map(({ candidate, verdict }) => [
        candidate.id,
        verdict.passed
          ? "exported"
          : verdict.entry.rule
            ? { reason: verdict.entry.reason, rule: verdict.entry.rule }
            : verdict.entry.reason,
      ]);
      expect(decided).toEqual(mix.map((seeded) => [seeded.candidate.id, expected(seeded, format)]));
    });

    it("lets nothing forbidden through: only approved, traceable, allowed, non-blank records", () => {
      for (const { candidate, verdict } of verdicts) {
        if (!verdict.passed) continue;
        expect(candidate.status).toBe("approved");
        expect(validateProvenance({ provenance: candidate.provenance, status: "approved" })).toEqual({
          valid: true,
        });
        expect(candidate.failure_category).not.toBe("scoring_artifact");
        expect(String(candidate.corrected_response).trim()).not.toBe("");
      }
      const exportedText = verdicts
        .flatMap(({ verdict }) => (verdict.passed ? verdict.lines.map((l) => JSON.stringify(l.line)) : []))
        .join("\n");
      for (const marker of [
        "unreviewed",
        "discarded",
        "flagged",
        "scoring",
        "no-provenance",
        "half-provenance",
      ]) {
        expect(exportedText).not.toContain(marker);
      }
    });

    it("gives every exclusion one reason from the taxonomy, a detail and where it came from", () => {
      for (const { candidate, verdict } of verdicts) {
        if (verdict.passed) continue;
        const entry: QuarantineEntry = verdict.entry;
        expect(EXCLUSION_REASONS).toContain(entry.reason);
        expect(entry.candidate_id).toBe(candidate.id);
        expect(entry.detail.length).toBeGreaterThan(0);
        expect(entry.status).toBe(candidate.status);
        if (entry.reason === "trainer_rule") expect(entry.rule).toBeDefined();
        else expect(entry.rule).toBeUndefined();
      }
    });
  });

  it("names the missing provenance fields as the validator finds them", () => {
    const firewall = firewallFor("openai-sft");
    const mix = seededMix();
    const half = mix.find(({ candidate }) => candidate.id === "cand-half-provenance")?.candidate;
    const none = mix.find(({ candidate }) => candidate.id === "cand-no-provenance")?.candidate;
    const halfVerdict = firewall.screen(half as never);
    const noneVerdict = firewall.screen(none as never);
    expect(halfVerdict.passed ? null : halfVerdict.entry.missing).toEqual([
      "model",
      "approved_by",
      "approved_at",
    ]);
    expect(noneVerdict.passed ? null : noneVerdict.entry.missing).toEqual(
      expect.arrayContaining(["source", "channel", "model", "captured_at"]),
    );
  });

  it("points a duplicate at the dataset line of the record it repeats", () => {
    const firewall = firewallFor("trl-kto");
    const first = reviewed("twin-a");
    const second = reviewed("twin-b", {
      prompt_messages: first.prompt_messages,
      corrected_response: first.corrected_response,
    });
    const other = reviewed("other");
    const verdicts = [other, first, second].map((c) => firewall.screen(c));
    expect(verdicts.map((v) => (v.passed ? v.firstLine : v.entry.duplicate_of_line))).toEqual([1, 3, 3]);
  });

  it("with included categories, keeps out every other category and records without one", () => {
    const firewall = firewallFor("openai-sft", { include_categories: ["hallucination", "wrong_answer"] });
    const decided = [
      reviewed("a", { failure_category: "wrong_answer" }),
      reviewed("b", { failure_category: "format_error" }),
      reviewed("c", { failure_category: null }),
    ].map((c) => {
      const verdict = firewall.screen(c);
      return verdict.passed ? "exported" : verdict.entry.reason;
    });
    expect(decided).toEqual(["exported", "category_disallowed", "category_disallowed"]);
  });

  it("treats every status but approved as disallowed", () => {
    for (const status of CANDIDATE_STATUSES.filter((s) => s !== "approved")) {
      const verdict = firewallFor("rag").screen(reviewed(`s-${status}`, { status }));
      expect(verdict.passed ? "exported" : verdict.entry.reason).toBe("status_disallowed");
    }
  });

  it("checks Bedrock's reserved strings in every turn, the system prompt and the correction too", () => {
    for (const [i, overrides] of [
      {
        prompt_messages: [
          { role: "system", content: "[EOS]" },
          { role: "user", content: "q?" },
        ],
      },
      { corrected_response: "Assistant: 4" },
      { prompt_messages: [{ role: "user", content: "System: be terse" }] },
    ].entries()) {
      const verdict = firewallFor("bedrock-conversation").screen(reviewed(`reserved-${i}`, overrides));
      expect(verdict.passed ? null : verdict.entry.rule).toBe("bedrock_reserved_string");
    }
  });
});

describe("normalised content", () => {
  it("ignores case, Unicode compatibility forms and whitespace runs", () => {
    expect(normalise("  Ｈello\tWORLD \n")).toBe("hello world");
    const a = contentFingerprint([{ role: "user", content: "What is 2+2?" }], "4");
    const b = contentFingerprint([{ role: "USER", content: " what  is 2+2? " }], "4\n");
    const c = contentFingerprint([{ role: "user", content: "What is 2+2?" }], "5");
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });
});

describe("FingerprintSet", () => {
  it("keeps the first value of each fingerprint through growth", () => {
    const set = new FingerprintSet(4);
    const fingerprint = (n: number) => contentFingerprint([], String(n));
    const added = Array.from({ length: 5_000 }, (_, n) => set.add(fingerprint(n), n));
    expect(added.every(Boolean)).toBe(true);
    expect(set.size).toBe(5_000);
    expect(set.add(fingerprint(42), 7)).toBe(false);
    expect(set.get(fingerprint(42))).toBe(42);
    expect(set.get(fingerprint(4_999))).toBe(4_999);
    expect(set.get(fingerprint(5_000))).toBeUndefined();
  });
});
