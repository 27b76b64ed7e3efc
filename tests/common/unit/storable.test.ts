import { describe, expect, it } from "vitest";
import { counterUpdate } from "../../../lib/common/adapters/counters.ts";
import { ValidationError } from "../../../lib/common/domain/errors.ts";
import { storageProblem } from "../../../lib/common/domain/storable.ts";

const nested = (depth: number): unknown => {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};

describe("storageProblem", () => {
  it.each([
    [{ n: 1e16 }, "n", "beyond"],
    [{ n: 1e300 }, "n", "beyond"],
    [{ meta: { n: -9007199254740992 } }, "meta.n", "beyond"],
    [{ list: [1, 2, 1e-200] }, "list.2", "smaller in magnitude"],
    [{ deep: nested(40) }, "deep", "nested deeper than 32"],
    [{ "": 1 }, "(root)", "empty name"],
    [{ meta: { "": 1 } }, "meta", "empty name"],
    [{ list: [1, { a: { "": null } }] }, "list.1.a", "empty name"],
    [JSON.parse('{"__proto__": {"x": 1}}'), "(root)", "__proto__"],
    [JSON.parse('{"meta": {"a": {"__proto__": 0}}}'), "meta.a", "__proto__"],
    [{ meta: { constructor: { name: "Map" } } }, "meta", "constructor"],
    [{ list: [{ constructor: true }] }, "list.0", "constructor"],
  ])("refuses %j at %s", (record, path, detail) => {
    const problem = storageProblem(record);
    expect(problem?.path.startsWith(path)).toBe(true);
    expect(problem?.detail).toContain(detail);
  });

  it("walks 10,000 levels without overflowing the stack, where JSON.stringify cannot", () => {
    const deep = JSON.parse(`${"[".repeat(10_000)}${"]".repeat(10_000)}`);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(storageProblem({ deep })?.detail).toContain("nested deeper");
  });

  it("accepts what DynamoDB stores: safe integers, ordinary floats, 31 levels, odd names", () => {
    expect(
      storageProblem({
        n: Number.MAX_SAFE_INTEGER,
        m: -Number.MAX_SAFE_INTEGER,
        f: 0.1,
        z: 0,
        deep: nested(31),
        map: { " ": "x", "\u0000": 1, "\ud800": [], toString: 1, hasOwnProperty: "h" },
      }),
    ).toBeNull();
  });
});

describe("counterUpdate", () => {
  it("refuses to write a counter named after a label past the cap, whichever path let it through", () => {
    expect(() => counterUpdate("tbl", { [`model#${"m".repeat(60_000)}`]: 1 }, 0)).toThrow(ValidationError);
    expect(counterUpdate("tbl", { [`model#${"m".repeat(256)}`]: 1 }, 0).UpdateExpression).toContain("ADD");
  });
});
