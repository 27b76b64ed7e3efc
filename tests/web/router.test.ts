// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";
import { defineComponent } from "vue";
import { hrefOf, matchRoute, navigate, parseHash, type RouteDef } from "../../web/src/router.ts";
import { NAV, ROUTES } from "../../web/src/routes.ts";

const Page = defineComponent({ render: () => null });
const table: RouteDef<null>[] = [
  { path: "/", component: Page, title: "Queue", section: "queue" },
  { path: "/exports/new", component: Page, title: "New export", section: "exports" },
  { path: "/exports/:id", component: Page, title: "Export", section: "exports" },
  { path: "/runs/:id/quarantine", component: Page, title: "Quarantine", section: "runs" },
];

afterEach(() => {
  window.location.hash = "";
});

describe("the hash router", () => {
  it("reads a path and a query from the hash, whatever its slashes", () => {
    expect(parseHash("")).toEqual({ path: "/", query: {} });
    expect(parseHash("#/")).toEqual({ path: "/", query: {} });
    expect(parseHash("#runs/")).toEqual({ path: "/runs", query: {} });
    expect(parseHash("#/queue?model=Qwen%202.5&task_type=&source=a%26b")).toEqual({
      path: "/queue",
      query: { model: "Qwen 2.5", source: "a&b" },
    });
  });

  it("writes a hash with its query in a stable order, empty values left out", () => {
    expect(hrefOf("/queue", { task_type: "math", model: "Qwen 2.5", run_id: "", source: undefined })).toBe(
      "#/queue?model=Qwen+2.5&task_type=math",
    );
    expect(hrefOf("/runs")).toBe("#/runs");
  });

  it("matches the first route, a literal before a parameter, and decodes parameters", () => {
    const at = (hash: string) => matchRoute(table, parseHash(hash));
    expect(at("#/exports/new")?.route.title).toBe("New export");
    expect(at("#/exports/exp%2F1")).toMatchObject({ route: { title: "Export" }, params: { id: "exp/1" } });
    expect(at("#/runs/2026-04-07/quarantine?reason=bad_json")).toMatchObject({
      params: { id: "2026-04-07" },
      query: { reason: "bad_json" },
    });
    expect(at("#/exports")).toBeNull();
    expect(at("#/exports/%E0%A4%A")).toBeNull();
  });

  it("navigates by pushing a hash, or by replacing the entry and still telling the listeners", () => {
    const heard = vi.fn();
    window.addEventListener("hashchange", heard);
    navigate("/exports/e1");
    expect(window.location.hash).toBe("#/exports/e1");
    const length = window.history.length;
    navigate("/queue", { model: "m" }, { replace: true });
    expect(window.location.hash).toBe("#/queue?model=m");
    expect(window.history.length).toBe(length);
    expect(heard).toHaveBeenCalled();
    window.removeEventListener("hashchange", heard);
  });

  it("has a route for every navigation entry, and a page for the addresses the other pages link to", () => {
    for (const entry of NAV) {
      const found = matchRoute(ROUTES, parseHash(entry.href));
      expect(found?.route.section, entry.href).toBe(entry.section);
    }
    for (const hash of ["#/", "#/queue?model=x", "#/exports/new", "#/exports/e1", "#/settings"]) {
      expect(matchRoute(ROUTES, parseHash(hash)), hash).not.toBeNull();
    }
  });
});
