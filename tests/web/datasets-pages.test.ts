// @vitest-environment happy-dom
import { mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ReviewApi } from "../../web/src/api.ts";
import { type Auth, startAuth } from "../../web/src/auth.ts";
import type { Dataset, DatasetVersion, EvalSet } from "../../web/src/datasets-api.ts";
import DatasetsPage from "../../web/src/pages/DatasetsPage.vue";
import DatasetVersionPage from "../../web/src/pages/DatasetVersionPage.vue";
import EvalSetsPage from "../../web/src/pages/EvalSetsPage.vue";
import { settle } from "./fixtures.ts";

let wrapper: VueWrapper | undefined;
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  window.location.hash = "";
});

const evalSet = (name: string, overrides: Partial<EvalSet> = {}): EvalSet => ({
  name,
  version: "0123456789abcdef",
  indexed: true,
  items: 3,
  indexed_items: 2,
  bytes: 2048,
  skipped_lines: 0,
  skipped: [],
  files: [{ key: `evalsets/${name}/items.jsonl`, bytes: 2048 }],
  ngram: 13,
  grams: 40,
  indexed_at: "2026-05-01T10:00:00.000Z",
  ...overrides,
});

const version = (name: string, n: number, exported: number): DatasetVersion =>
  ({
    name,
    version: n,
    export_id: `exp-${n}`,
    format: "openai-sft",
    state: "ready",
    pinned_at: "2026-05-01T10:00:00.000Z",
    prefix: `datasets/${name}/v${n}/`,
    files: {
      dataset: {
        key: `datasets/${name}/v${n}/dataset.jsonl`,
        bytes: 10,
        lines: exported,
        sha256: "a".repeat(64),
      },
      documents: null,
    },
    manifest: { counts: { exported, lines: exported, quarantined: 1 } },
  }) as DatasetVersion;

const dataset = (name: string, versions: number[]): Dataset =>
  ({
    name,
    last_version: versions.length,
    created_at: "2026-05-01T10:00:00.000Z",
    updated_at: "2026-05-02T10:00:00.000Z",
    versions: versions.map((exported, i) => version(name, i + 1, exported)),
  }) as Dataset;

function datasetsApi() {
  const datasets = {
    list: vi.fn(),
    dataset: vi.fn(),
    version: vi.fn(),
    pin: vi.fn(),
    diff: vi.fn(),
    evalSets: vi.fn(async () => ({
      evalsets: [
        evalSet("gsm8k-test"),
        evalSet("trivia", {
          indexed: false,
          items: null,
          indexed_items: null,
          grams: null,
          indexed_at: null,
          skipped_lines: null,
        }),
      ],
    })),
    uploadEvalSet: vi.fn(),
    indexEvalSet: vi.fn(async (name: string) => evalSet(name)),
    deleteEvalSet: vi.fn(),
  };
  const api = { datasets, exportJobs: vi.fn(async () => ({ exports: [] })) };
  return { api: api as unknown as ReviewApi, datasets };
}

const auth = (scopes: readonly string[] | null): Auth => ({
  mode: "cognito",
  apiUrl: "",
  user: "ana@example.com",
  scopes,
  token: async () => "token",
  signIn: () => {},
  signOut: () => {},
});

describe("EvalSetsPage", () => {
  it("offers Delete to an admin and to a caller whose scopes are not known here, not to an exporter", async () => {
    for (const [scopes, deletes] of [
      [["review", "export", "admin"], true],
      [null, true],
      [["export", "provenance.read"], false],
    ] as const) {
      const { api } = datasetsApi();
      wrapper = mount(EvalSetsPage, { attachTo: document.body, props: { api, auth: auth(scopes) } });
      await settle();
      const row = wrapper.get('tr[data-evalset="gsm8k-test"]');
      expect(row.find('[data-testid="delete-gsm8k-test"]').exists(), JSON.stringify(scopes)).toBe(deletes);
      if (!deletes) expect(row.text()).toContain("Deleting needs the admin role");
      wrapper.unmount();
      wrapper = undefined;
    }
  });

  it("shows which sets are indexed, and indexes one that is not on request", async () => {
    const { api, datasets } = datasetsApi();
    wrapper = mount(EvalSetsPage, { attachTo: document.body, props: { api, auth: null } });
    await settle();
    const cells = (name: string) =>
      wrapper
        ?.get(`tr[data-evalset="${name}"]`)
        .findAll("td")
        .map((cell) => cell.text());
    expect(cells("gsm8k-test")?.slice(0, 2)).toEqual(["3", "2"]);
    expect(cells("trivia")?.slice(0, 2)).toEqual(["—", "—"]);
    expect(wrapper.get('tr[data-evalset="trivia"] [data-testid="evalset-index-status"]').text()).toContain(
      "not indexed",
    );
    await wrapper.get('tr[data-evalset="trivia"] button.link').trigger("click");
    await settle();
    expect(datasets.indexEvalSet).toHaveBeenCalledWith("trivia");
    expect(wrapper.get('[data-testid="evalset-row-message"]').text()).toBe("Indexed trivia: 3 item(s).");
  });
});

describe("DatasetsPage", () => {
  it("lists datasets with the latest version's counts and pages on with next_cursor", async () => {
    const { api, datasets } = datasetsApi();
    datasets.list
      .mockResolvedValueOnce({ datasets: [dataset("alpha", [4, 6])], next_cursor: "YWxwaGE" })
      .mockResolvedValueOnce({ datasets: [dataset("beta", [2])], next_cursor: null });
    wrapper = mount(DatasetsPage, { attachTo: document.body, props: { api } });
    await settle();
    const alpha = wrapper.get('tr[data-dataset="alpha"]');
    expect(alpha.findAll("a[data-version]").map((a) => a.attributes("href"))).toEqual([
      "#/datasets/alpha/versions/1",
      "#/datasets/alpha/versions/2",
    ]);
    expect(
      alpha
        .findAll("td")
        .map((cell) => cell.text())
        .slice(1, 4),
    ).toEqual(["openai-sft", "6", "1"]);
    await wrapper.get('[data-testid="more-datasets"]').trigger("click");
    await settle();
    expect(datasets.list).toHaveBeenLastCalledWith({ cursor: "YWxwaGE" });
    expect(wrapper.findAll("tr[data-dataset]").map((row) => row.attributes("data-dataset"))).toEqual([
      "alpha",
      "beta",
    ]);
    expect(wrapper.find('[data-testid="more-datasets"]').exists()).toBe(false);
  });
});

describe("DatasetVersionPage", () => {
  it("carries on a pin cut short, then shows the version's files with their sha256 and signed links", async () => {
    const { api, datasets } = datasetsApi();
    const ready = version("alpha", 1, 4);
    const link = (file: string) => ({
      url: `https://signed.example/${file}`,
      file_name: file,
      expires_in: 900,
      expires_at: "2026-05-01T10:15:00.000Z",
    });
    datasets.version
      .mockResolvedValueOnce({ ...ready, state: "copying", downloads: null })
      .mockResolvedValue({ ...ready, downloads: { dataset: link("alpha-v1.jsonl") } });
    datasets.dataset.mockResolvedValue(dataset("alpha", [4]));
    datasets.pin.mockResolvedValue(ready);
    wrapper = mount(DatasetVersionPage, {
      attachTo: document.body,
      props: { api, name: "alpha", version: "1" },
    });
    await settle();
    expect(wrapper.get('[data-testid="version-state"]').text()).toBe("copying");
    expect(wrapper.find('[data-testid="version-download-dataset"]').exists()).toBe(false);
    await wrapper.get('[data-testid="carry-on"]').trigger("click");
    await settle();
    expect(datasets.pin).toHaveBeenCalledWith("alpha", "exp-1");
    expect(wrapper.get('[data-testid="version-state"]').text()).toBe("ready");
    expect(wrapper.get('[data-testid="version-download-dataset"]').attributes("href")).toBe(
      "https://signed.example/alpha-v1.jsonl",
    );
    expect(wrapper.get('[data-testid="version-sha256-dataset"]').text()).toBe("a".repeat(64));
    // The only version: nothing to compare with.
    expect(wrapper.find('[data-testid="diff-form"]').exists()).toBe(false);
  });
});

describe("the signed-in user's scopes", () => {
  it("are read from the Cognito access token's flywheel scopes", async () => {
    const claims = { scope: "openid flywheel/review flywheel/export email" };
    const jwt = `x.${btoa(JSON.stringify(claims)).replace(/=+$/, "")}.y`;
    const storage = new Map<string, string>([
      [
        "flywheel.tokens",
        JSON.stringify({
          accessToken: jwt,
          idToken: jwt,
          refreshToken: null,
          expiresAt: Date.now() + 3_600_000,
        }),
      ],
    ]);
    const fetch = vi.fn(async (url: string) =>
      url === "/config.json"
        ? new Response(JSON.stringify({ cognitoDomain: "auth.example.com", clientId: "client" }), {
            headers: { "content-type": "application/json" },
          })
        : new Response("no", { status: 404 }),
    );
    const signedIn = await startAuth({
      fetch: fetch as unknown as typeof globalThis.fetch,
      location: { search: "", origin: "https://review.example.com", pathname: "/", hash: "" } as Location,
      history: { replaceState: () => {} } as unknown as History,
      storage: {
        getItem: (key: string) => storage.get(key) ?? null,
        setItem: (key: string, value: string) => storage.set(key, value),
        removeItem: (key: string) => storage.delete(key),
      } as unknown as Storage,
      crypto: globalThis.crypto,
    });
    expect(signedIn.scopes).toEqual(["review", "export"]);
  });
});
