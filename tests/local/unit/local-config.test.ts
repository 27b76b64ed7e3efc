import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadOrCreateTokens } from "../../../local/local-config.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "flywheel-tokens-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadOrCreateTokens", () => {
  it("creates random tokens once and returns the same ones afterwards", async () => {
    const file = join(dir, "tokens.json");
    const first = await loadOrCreateTokens(file);
    expect(first.reviewerToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Object.keys(first.ingestTokens).sort()).toEqual(["kiwi", "peregrine"]);
    expect(new Set([first.reviewerToken, ...Object.values(first.ingestTokens)]).size).toBe(3);
    expect((await stat(file)).mode & 0o077).toBe(0);

    expect(await loadOrCreateTokens(file)).toEqual(first);
    expect(await loadOrCreateTokens(join(dir, "other.json"))).not.toEqual(first);
  });

  it("creates a dev token per role but the product's (products use their ingest tokens)", async () => {
    const file = join(dir, "tokens.json");
    const { roleTokens = {}, reviewerToken } = await loadOrCreateTokens(file);
    expect(Object.keys(roleTokens).sort()).toEqual([
      "admin",
      "eval-lead",
      "eval-writer",
      "exporter",
      "reviewer",
    ]);
    expect(new Set([reviewerToken, ...Object.values(roleTokens)]).size).toBe(6);
    expect((await loadOrCreateTokens(file)).roleTokens).toEqual(roleTokens);
  });

  it("adds tokens for new sources without changing existing ones", async () => {
    const file = join(dir, "tokens.json");
    await writeFile(file, JSON.stringify({ reviewerToken: "r", ingestTokens: { kiwi: "k" } }));
    const tokens = await loadOrCreateTokens(file);
    expect(tokens.reviewerToken).toBe("r");
    expect(tokens.ingestTokens.kiwi).toBe("k");
    expect(tokens.ingestTokens.peregrine).toBeTruthy();
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual(tokens);
  });

  it("refuses a corrupt tokens file instead of replacing it", async () => {
    const file = join(dir, "tokens.json");
    await writeFile(file, "{not json");
    await expect(loadOrCreateTokens(file)).rejects.toThrow(/tokens\.json is not valid/);
  });
});
