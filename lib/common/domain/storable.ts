/**
 * What DynamoDB would refuse in a record's fields, checked before anything is written, so one odd
 * value is a clear refusal of its own record rather than a failed batch. Checked iteratively: a
 * value nested 10,000 deep (which `JSON.parse` accepts and `JSON.stringify` cannot print) is
 * refused like one nested 33 deep.
 *
 * Numbers are refused, not kept as strings, when DynamoDB or the SDK cannot hold them exactly:
 * beyond ±(2^53 − 1) the SDK would need a `NumberValue` and every reader would get a string, and
 * below 1e-130 in magnitude DynamoDB refuses the number. Field names are checked at every depth:
 * DynamoDB refuses an empty one inside a map as on top, and the SDK's marshaller cannot write
 * `__proto__` or `constructor` faithfully.
 */

/** DynamoDB's deepest nesting of lists and maps inside an attribute. */
export const MAX_NESTING = 32;
/** The smallest magnitude DynamoDB stores (other than zero). */
const MIN_MAGNITUDE = 1e-130;
/** DynamoDB's longest attribute name, in bytes. */
const MAX_NAME_BYTES = 65_535;

const utf8 = new TextEncoder();
/** The length of `text` in UTF-8 bytes, the unit of DynamoDB's limits. */
export const byteLength = (text: string): number => utf8.encode(text).length;

export interface StorageProblem {
  /** Where: `metadata.n`, `extra.0.deep` (`(root)` for the record itself). */
  readonly path: string;
  readonly detail: string;
}

/** The first value of `record` DynamoDB would refuse, or `null` when it can be stored as it is. */
export function storageProblem(record: unknown): StorageProblem | null {
  const stack: { value: unknown; path: (string | number)[]; depth: number }[] = [
    { value: record, path: [], depth: 0 },
  ];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop() as (typeof stack)[number];
    const where = path.length > 0 ? path.join(".") : "(root)";
    if (typeof value === "number") {
      if (!Number.isFinite(value)) return { path: where, detail: "not a finite number" };
      if (Math.abs(value) > Number.MAX_SAFE_INTEGER) {
        return {
          path: where,
          detail: `${value} is beyond ±${Number.MAX_SAFE_INTEGER}, the largest number stored exactly`,
        };
      }
      if (value !== 0 && Math.abs(value) < MIN_MAGNITUDE) {
        return { path: where, detail: `${value} is smaller in magnitude than ${MIN_MAGNITUDE}` };
      }
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    // DynamoDB's 32 levels count the item itself, so a field may nest 31 (a field stored one
    // level down, like a correction's unknown fields under `extra_fields`, one less).
    if (depth >= MAX_NESTING) return { path: where, detail: `nested deeper than ${MAX_NESTING} levels` };
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        stack.push({ value: item, path: [...path, i], depth: depth + 1 });
      });
      continue;
    }
    for (const [name, item] of Object.entries(value)) {
      if (byteLength(name) > MAX_NAME_BYTES) {
        return { path: where, detail: `a field name longer than ${MAX_NAME_BYTES} bytes` };
      }
      // DynamoDB refuses an empty attribute name at any depth, a map's key inside a field too.
      if (name === "") return { path: where, detail: "a field with an empty name" };
      // The SDK's marshaller assigns map keys to a plain object and picks a map's type by its
      // `constructor`: a field named `__proto__` is lost on top and refused below, and a map
      // holding one named `constructor` is refused, written as another type (a string
      // "[object Object]", `true`) or fails the whole write with a TypeError.
      if (name === "__proto__" || name === "constructor") {
        return { path: where, detail: `a field named ${name}` };
      }
      stack.push({ value: item, path: [...path, name], depth: depth + 1 });
    }
  }
  return null;
}
