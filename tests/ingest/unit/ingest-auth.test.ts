import { describe, expect, it } from "vitest";
import { ForbiddenError, NotConfiguredError, UnauthorizedError } from "../../../lib/common/domain/errors.ts";
import { authenticateIngest } from "../../../lib/ingest/edge/ingest-auth.ts";

const tokens = { kiwi: "kiwi-token-0123456789abcdef", peregrine: "peregrine-token-0123456789ab" };

describe("authenticateIngest", () => {
  it("answers 503 when no token is configured, even without a header", () => {
    expect(() => authenticateIngest(null, {})).toThrow(NotConfiguredError);
    expect(() => authenticateIngest(`Bearer ${tokens.kiwi}`, {})).toThrow(NotConfiguredError);
  });

  it.each([null, "", "Bearer", "Bearer ", `Basic ${tokens.kiwi}`, `Token ${tokens.kiwi}`, `Bearer a b`])(
    "answers 401 for the header %j",
    (header) => {
      expect(() => authenticateIngest(header, tokens)).toThrow(UnauthorizedError);
    },
  );

  it.each(["wrong", `${tokens.kiwi}x`, tokens.kiwi.slice(0, -1), tokens.kiwi.toUpperCase()])(
    "answers 403 for the token %s",
    (token) => {
      expect(() => authenticateIngest(`Bearer ${token}`, tokens)).toThrow(ForbiddenError);
    },
  );

  it("binds each token to its own source, whatever the case of the scheme", () => {
    expect(authenticateIngest(`bearer ${tokens.kiwi}`, tokens)).toEqual({
      source: "kiwi",
      principal: "ingest-token:kiwi",
    });
    expect(authenticateIngest(`BEARER  ${tokens.peregrine} `, tokens).source).toBe("peregrine");
  });
});
