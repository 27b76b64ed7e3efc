import { readFile } from "node:fs/promises";
import { CLEAN_RUN_ID, DAMAGED_RUN_ID, samplePath } from "../samples/index.ts";
import { ingestFile, resolveQueueTarget } from "./ingest.ts";
import { type CommandIo, toIo } from "./output.ts";
import { uploadRun } from "./runs.ts";
import { callApi, resolveApiTarget, resolveTarget } from "./target.ts";

export const DEMO_USAGE = `  flywheel demo
      Loads the repository's samples into the running local runtime (npm start): the clean and
      the damaged run, the sample corrections and the chat sessions with their feedback.
      JSON: {runs: [run_id], corrections: {published, refused}, sessions, ratings, api_url}.`;

interface SampleSession {
  readonly id: string;
  readonly feedback: readonly Record<string, unknown>[];
  readonly [field: string]: unknown;
}

/** `flywheel demo`: a first `npm start` shows a real queue, real corrections and real sessions. */
export async function demoCommand(output: CommandIo | ((line: string) => void)): Promise<number> {
  const io = toIo(output);
  const print = io.print;
  const target = await resolveTarget({ local: true });
  for (const runId of [CLEAN_RUN_ID, DAMAGED_RUN_ID]) {
    await uploadRun(target, samplePath("runs", runId), { print });
  }
  const corrections = await ingestFile(
    await resolveQueueTarget({ local: true }, {}),
    samplePath("corrections", "valid.jsonl"),
    print,
  );
  const api = await resolveApiTarget({ local: true }, {});
  const sessions = JSON.parse(
    await readFile(samplePath("sessions", "sessions.json"), "utf8"),
  ) as SampleSession[];
  let ratings = 0;
  for (const { feedback, ...session } of sessions) {
    await callApi(api, "POST", "/api/eval/sessions", session);
    for (const rating of feedback) {
      await callApi(api, "POST", "/api/eval/feedback", { session_id: session.id, ...rating });
      ratings += 1;
    }
  }
  print(`loaded ${sessions.length} chat session(s) with ${ratings} rating(s) into ${api.description}`);
  print(
    `demo loaded: 2 runs importing (${CLEAN_RUN_ID}, ${DAMAGED_RUN_ID}), ${corrections.published} correction(s) queued; open ${api.apiUrl}`,
  );
  io.emit({
    runs: [CLEAN_RUN_ID, DAMAGED_RUN_ID],
    corrections: { published: corrections.published, refused: corrections.refused },
    sessions: sessions.length,
    ratings,
    api_url: api.apiUrl,
  });
  return corrections.refused === 0 ? 0 : 1;
}
