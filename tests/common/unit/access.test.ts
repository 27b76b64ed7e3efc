import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ALL_SCOPES, ROLES, ROUTE_ACCESS } from "../../../lib/common/http/access.ts";

/** docs/access.md's tables, parsed: the docs say what the code does, or this fails. */
const doc = readFileSync(new URL("../../../docs/access.md", import.meta.url), "utf8");
const rows = (heading: string) => {
  const section = doc.slice(doc.indexOf(`## ${heading}`)).split("\n## ")[0] ?? "";
  return section
    .split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| role") && !line.startsWith("| scope"))
    .map((line) => line.split("|").map((cell) => cell.trim()));
};
const names = (cell: string | undefined) => [...(cell ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? "");

describe("docs/access.md", () => {
  it("lists every role with exactly its scopes", () => {
    const documented = Object.fromEntries(
      rows("Roles").map(([, role, scopes]) => [names(role)[0], names(scopes).sort()]),
    );
    const declared = Object.fromEntries(
      Object.entries(ROLES).map(([role, scopes]) => [role, [...scopes].sort()]),
    );
    expect(documented).toEqual(declared);
  });

  it("lists every route under the scope it needs", () => {
    const documented: Record<string, string> = {};
    for (const [, scope, routes] of rows("Routes")) {
      const access = scope === "open" ? "open" : (names(scope)[0] ?? "");
      for (const route of names(routes)) documented[route.replace(/\{([a-z_]+)\}/g, ":$1")] = access;
    }
    expect(documented).toEqual(ROUTE_ACCESS);
    expect(new Set(Object.values(ROUTE_ACCESS).filter((a) => a !== "open"))).toEqual(
      new Set(ALL_SCOPES.filter((s) => s !== "ingest")),
    );
  });
});

describe("eval sets", () => {
  it("let an exporter register, list and read them, but only an admin delete one", () => {
    const exporter: readonly string[] = ROLES.exporter;
    for (const route of [
      "POST /api/evalsets/:name",
      "GET /api/evalsets",
      "GET /api/evalsets/:name",
    ] as const) {
      expect(exporter).toContain(ROUTE_ACCESS[route]);
    }
    expect(ROUTE_ACCESS["DELETE /api/evalsets/:name"]).toBe("admin");
    expect(exporter).not.toContain(ROUTE_ACCESS["DELETE /api/evalsets/:name"]);
    expect(ROLES.admin).toContain(ROUTE_ACCESS["DELETE /api/evalsets/:name"]);
  });
});
