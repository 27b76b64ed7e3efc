import { ValidationError } from "./errors.ts";

/**
 * The lifetime of a signed link a reply hands out (`?expires_in=`, else the deployment's
 * default): a 422 naming `expires_in` when it is longer than the deployment allows.
 */
export function checkExpiry(seconds: number, max: number): number {
  if (seconds > max) {
    throw new ValidationError([
      {
        loc: ["query", "expires_in"],
        msg: `expires_in must be at most ${max} seconds`,
        type: "less_than_equal",
      },
    ]);
  }
  return seconds;
}
