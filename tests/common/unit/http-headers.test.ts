import { describe, expect, it } from "vitest";
import { unrepresentableHeader } from "../../../lib/common/http/request.ts";

describe("unrepresentableHeader", () => {
  it.each([
    ["an emoji", "key-😀"],
    ["a lone surrogate", "key-\ud800"],
    ["a right-to-left mark", "key-\u200f"],
    ["NUL", "a\u0000b"],
    ["a line break", "a\nb"],
  ])("names the header holding %s", (_, value) => {
    expect(unrepresentableHeader({ host: "api.example.test", "idempotency-key": value })).toBe(
      "idempotency-key",
    );
  });

  it("lets through what a header can carry: Latin-1, padding, nothing at all", () => {
    expect(
      unrepresentableHeader({ "idempotency-key": " café ", accept: "*/*", skipped: undefined }),
    ).toBeNull();
    expect(unrepresentableHeader(undefined)).toBeNull();
  });
});
