import type * as z from "zod";
import { NotFoundError, ValidationError, type ValidationIssue } from "../domain/errors.ts";
import { byteLength } from "../domain/storable.ts";

type Location = "body" | "query" | "path";

/** zod's issues as FastAPI reports validation errors (`loc`, `msg`, `type`), for Avocet's clients. */
export function validationIssues(error: z.ZodError, location: Location): ValidationIssue[] {
  return error.issues.map((issue) => ({
    loc: [location, ...issue.path.map((part) => (typeof part === "symbol" ? String(part) : part))],
    msg: issue.message,
    type: issue.code === "invalid_type" && /received undefined/.test(issue.message) ? "missing" : issue.code,
  }));
}

export function parseWith<S extends z.ZodType>(schema: S, input: unknown, location: Location): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ValidationError(validationIssues(parsed.error, location));
  return parsed.data;
}

/** The JSON body of `req`, checked against `schema`; a 422 for anything else. */
export async function parseJsonBody<S extends z.ZodType>(req: Request, schema: S): Promise<z.output<S>> {
  const text = await req.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError([
      { loc: ["body"], msg: "the body must be a JSON object", type: "json_invalid" },
    ]);
  }
  return parseWith(schema, body, "body");
}

/** The query string of `req` (first value of each name), checked against `schema`. */
export function parseQuery<S extends z.ZodType>(req: Request, schema: S): z.output<S> {
  const query: Record<string, string> = {};
  for (const [name, value] of new URL(req.url).searchParams) query[name] ??= value;
  return parseWith(schema, query, "query");
}

/** No stored id is longer: candidate ids stop at 960 bytes, session ids at 256 characters. */
export const MAX_PATH_ID_BYTES = 1024;

/**
 * The id a path names. One longer than any id stored cannot name anything, so it is a 404 here,
 * before a key DynamoDB would refuse is ever built.
 */
export function pathId(params: Record<string, string | undefined>, name: string, what: string): string {
  const id = params[name] ?? "";
  if (byteLength(id) > MAX_PATH_ID_BYTES) throw new NotFoundError(`${what} not found`);
  return id;
}

/**
 * The name of the first header a web `Request` cannot carry, or `null`: a value holding a character
 * above U+00FF, NUL, CR or LF, or a name that is not an HTTP token. API Gateway hands such a header
 * on as it came, and the router would throw turning the event into a request, before any route or
 * error handler runs: the caller would get a bare 500 for what is a malformed request.
 */
export function unrepresentableHeader(headers: Readonly<Record<string, string | undefined>> | undefined) {
  const probe = new Headers();
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    try {
      probe.set(name, value);
    } catch {
      return name;
    }
  }
  return null;
}
