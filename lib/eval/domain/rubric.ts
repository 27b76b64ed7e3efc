import * as z from "zod";

/**
 * The judge's rubric. Bump `RUBRIC_VERSION` when an axis or its guidance changes and
 * `JUDGE_VERSION` when the prompts, the experts or the aggregation change: every evaluation
 * made under other versions then reads as `stale`. `rubric-2`: the judge reads the users' likes
 * and dislikes of each message and the product's profile, as the session eval API's judge did.
 */
export const RUBRIC_VERSION = "rubric-2";
export const JUDGE_VERSION = "judge-1";

export interface JudgeVersions {
  readonly judge_version: string;
  readonly rubric_version: string;
}

export const CURRENT_VERSIONS: JudgeVersions = {
  judge_version: JUDGE_VERSION,
  rubric_version: RUBRIC_VERSION,
};

/** Axes every evaluation scores, 0–100. */
export const REQUIRED_AXES = [
  "task_complexity",
  "goal_completion",
  "tool_usage_quality",
  "efficiency",
  "communication",
] as const;
/** Axes that only apply to some sessions: `null` when they do not. */
export const OPTIONAL_AXES = ["subagent_orchestration", "self_extension"] as const;
export const AXES = [...REQUIRED_AXES, ...OPTIONAL_AXES] as const;
export type Axis = (typeof AXES)[number];

const AXIS_GUIDANCE: Record<Axis, string> = {
  task_complexity:
    "How demanding the user's task was, not how well it went: 0–25 a one-step lookup or " +
    "small talk, 26–50 a few steps, 51–75 multi-step work needing judgement, 76–100 open-ended " +
    "engineering or research.",
  goal_completion:
    "Whether the user got what they came for: 0 nothing useful or a wrong answer, 50 partly, " +
    "100 fully and correctly.",
  tool_usage_quality:
    "Whether tools (search, code execution, file edits, APIs) were used when they were needed, " +
    "correctly and with results checked. When no tool was needed, score how well the assistant " +
    "did without one; an assistant that refuses work a tool would do scores low.",
  efficiency: "Whether the goal was reached without needless turns, repetition, detours or padding.",
  communication:
    "Clarity, accuracy about its own actions and limits, tone, and whether the user was told " +
    "what they need to act on.",
  subagent_orchestration:
    "Only when the assistant delegated to sub-agents: whether it split, briefed and checked " +
    "their work well. null when it did not delegate.",
  self_extension:
    "Only when the assistant created or changed its own tools, skills or instructions: whether " +
    "that was warranted and done well. null when it did not.",
};

const score = z.number().min(0).max(100);

/** The scores one expert gives a session. */
export const JudgeScores = z.object({
  task_complexity: score,
  goal_completion: score,
  tool_usage_quality: score,
  efficiency: score,
  communication: score,
  subagent_orchestration: score.nullable().default(null),
  self_extension: score.nullable().default(null),
});
export type JudgeScores = z.infer<typeof JudgeScores>;

/** What an expert must answer: its scores and a comment that explains them. */
export const JudgeVerdict = z.object({
  scores: JudgeScores,
  comment: z.string().trim().min(1).max(4_000),
});
export type JudgeVerdict = z.infer<typeof JudgeVerdict>;

/** Per-axis scores of an evaluation: the mean over the experts that scored the axis. */
export type AxisScores = Record<Axis, number | null>;

export interface Expert {
  readonly name: string;
  readonly focus: string;
}

/**
 * Each session is read by several experts with different concerns; each scores every axis
 * from its angle and the evaluation averages them, which evens out one prompt's blind spots.
 */
export const EXPERTS: readonly Expert[] = [
  {
    name: "task_analyst",
    focus:
      "You are an expert in task analysis. Work out precisely what the user wanted and judge " +
      "above all how hard that was and whether the assistant delivered it.",
  },
  {
    name: "process_reviewer",
    focus:
      "You are an expert in agent workflows. Judge above all how the assistant worked: its use " +
      "of tools, delegation and self-modification, and how directly it got to the result.",
  },
  {
    name: "communication_reviewer",
    focus:
      "You are an expert in technical communication and user support. Judge above all how the " +
      "assistant spoke to the user: clear, honest about what it did and could not do, helpful.",
  },
];

export interface ChatTurn {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

/** A conversation longer than this many characters is shown with its middle left out. */
export const MAX_TRANSCRIPT_CHARS = 120_000;

/** What the judge is told beside the conversation: the users' ratings and the product's profile. */
export interface JudgeContext {
  readonly feedback?: readonly { message_index: number; rating: 1 | -1; comment?: string | null }[];
  readonly profile?: { readonly id: string; readonly name?: string; readonly description: string } | null;
}

const MAX_FEEDBACK_COMMENTS = 3;
const MAX_COMMENT_CHARS = 300;

/** One line under a rated message: its likes, dislikes and a few of the users' comments. */
function feedbackNote(ratings: NonNullable<JudgeContext["feedback"]>): string | null {
  if (ratings.length === 0) return null;
  const likes = ratings.filter((r) => r.rating === 1).length;
  const dislikes = ratings.length - likes;
  const comments = ratings
    .filter((r) => r.comment?.trim())
    .slice(0, MAX_FEEDBACK_COMMENTS)
    .map(
      (r) =>
        `${r.rating === 1 ? "liked" : "disliked"}: "${(r.comment ?? "").trim().slice(0, MAX_COMMENT_CHARS)}"`,
    );
  const counts = `${likes} like${likes === 1 ? "" : "s"}, ${dislikes} dislike${dislikes === 1 ? "" : "s"}`;
  return `(user feedback on this message: ${counts}${comments.length > 0 ? `; ${comments.join("; ")}` : ""})`;
}

export function transcriptOf(
  messages: readonly { role: string; content: string }[],
  feedback: JudgeContext["feedback"] = [],
): string {
  const text = messages
    .map((m, i) => {
      const note = feedbackNote(feedback.filter((f) => f.message_index === i));
      return `[${i}] ${m.role}:\n${m.content}${note ? `\n${note}` : ""}`;
    })
    .join("\n\n");
  if (text.length <= MAX_TRANSCRIPT_CHARS) return text;
  const half = MAX_TRANSCRIPT_CHARS / 2;
  return `${text.slice(0, half)}\n\n[… ${text.length - MAX_TRANSCRIPT_CHARS} characters left out …]\n\n${text.slice(-half)}`;
}

const OUTPUT_SHAPE = `{"scores": {${AXES.map((axis) =>
  (OPTIONAL_AXES as readonly string[]).includes(axis) ? `"${axis}": <0-100 or null>` : `"${axis}": <0-100>`,
).join(", ")}}, "comment": "<two to five sentences>"}`;

const EVIDENCE_GUIDANCE =
  "Users may have liked or disliked messages; their feedback is shown under the message it is " +
  "about. Treat it as evidence of how the answer landed, not as a verdict: a disliked answer " +
  "that was right still scores well, a liked one that was wrong does not. When the product's " +
  "profile is given, judge the assistant against what that product is for.";

/** The first request to one expert about one session, with its users' feedback and profile. */
export function expertPrompt(
  expert: Expert,
  messages: readonly { role: string; content: string }[],
  context: JudgeContext = {},
) {
  const rubric = AXES.map((axis) => `- ${axis}: ${AXIS_GUIDANCE[axis]}`).join("\n");
  const system =
    `${expert.focus}\n\nScore the conversation on every axis of this rubric (${RUBRIC_VERSION}):\n${rubric}\n\n` +
    `${EVIDENCE_GUIDANCE}\n\n` +
    `Answer with one JSON object and nothing else, exactly of this shape:\n${OUTPUT_SHAPE}`;
  const profile = context.profile
    ? `Product profile "${context.profile.name || context.profile.id}":\n${context.profile.description}\n\n`
    : "";
  return [
    { role: "system", content: system },
    {
      role: "user",
      content: `${profile}Conversation to evaluate:\n\n${transcriptOf(messages, context.feedback)}`,
    },
  ] satisfies ChatTurn[];
}

/** The follow-up after a reply that did not validate: the one retry a malformed answer gets. */
export function correctionTurns(reply: string, problem: string): ChatTurn[] {
  return [
    { role: "assistant", content: reply },
    {
      role: "user",
      content:
        `That reply is not valid: ${problem}. Answer again with only the JSON object, ` +
        `exactly of this shape:\n${OUTPUT_SHAPE}`,
    },
  ];
}

export type VerdictParse = { ok: true; verdict: JudgeVerdict } | { ok: false; problem: string };

/**
 * Reads an expert's reply: the JSON object, also when wrapped in a code fence or in prose,
 * checked against `JudgeVerdict`.
 */
export function parseVerdict(reply: string): VerdictParse {
  const json = extractJson(reply);
  if (json === undefined) return { ok: false, problem: "it contains no JSON object" };
  const parsed = JudgeVerdict.safeParse(json);
  if (parsed.success) return { ok: true, verdict: parsed.data };
  const issues = parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
  return { ok: false, problem: issues.join("; ") };
}

/** The JSON object in a reply: the whole text, a fenced block, or the span between the outer braces. */
export function extractJson(text: string): unknown {
  const candidates = [text.trim()];
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  if (fenced?.[1]) candidates.push(fenced[1].trim());
  const first = text.indexOf("{");
  const last = text.lastIndexOf("}");
  if (first >= 0 && last > first) candidates.push(text.slice(first, last + 1));
  for (const candidate of candidates) {
    try {
      const value: unknown = JSON.parse(candidate);
      if (value !== null && typeof value === "object" && !Array.isArray(value)) return value;
    } catch {
      // try the next reading
    }
  }
  return undefined;
}

export interface ExpertVerdict extends JudgeVerdict {
  readonly expert: string;
}

/**
 * Scores rounded to whole numbers, as the session eval API showed them (`latest_avg`, a run
 * session's `avg`); `null` stays `null`, and so does a session not scored.
 */
export function roundedScores(scores: AxisScores | null): AxisScores | null {
  if (!scores) return null;
  return Object.fromEntries(
    AXES.map((axis) => [axis, typeof scores[axis] === "number" ? Math.round(scores[axis]) : null]),
  ) as AxisScores;
}

/** Mean per axis over the experts that gave the axis a score; `null` when none did. */
export function aggregateScores(verdicts: readonly { scores: JudgeScores }[]): AxisScores {
  const result = {} as AxisScores;
  for (const axis of AXES) {
    const values = verdicts.map((v) => v.scores[axis]).filter((value): value is number => value !== null);
    result[axis] = values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
  }
  return result;
}
