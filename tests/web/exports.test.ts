import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../web/src/api.ts";
import { downloadUrlOf, exportDataset } from "../../web/src/exports.ts";
import { fakeApi } from "./fixtures.ts";

const noWait = { sleep: async () => {} };

describe("exportDataset", () => {
  it("creates an openai-sft export and polls the job until it has a signed URL", async () => {
    const { api } = fakeApi([]);
    api.createExport.mockResolvedValueOnce({ id: "e1", status: "queued" });
    api.exportJob.mockResolvedValueOnce({ id: "e1", status: "running" }).mockResolvedValueOnce({
      id: "e1",
      status: "completed",
      download_url: "http://127.0.0.1:9/e1.jsonl?X-Amz-Expires=900",
    });
    const progress = vi.fn();

    const result = await exportDataset(api, { ...noWait, onProgress: progress });

    expect(api.createExport).toHaveBeenCalledWith("openai-sft");
    expect(api.exportJob).toHaveBeenCalledTimes(2);
    expect(result).toEqual({ kind: "url", url: "http://127.0.0.1:9/e1.jsonl?X-Amz-Expires=900" });
    expect(progress).toHaveBeenCalledWith("Export running…");
  });

  it("says why a failed job failed", async () => {
    const { api } = fakeApi([]);
    api.createExport.mockResolvedValueOnce({ id: "e2", status: "failed", error: "manifest write denied" });
    await expect(exportDataset(api, noWait)).rejects.toThrow("The export failed: manifest write denied");
  });

  it("gives up after its time limit", async () => {
    const { api } = fakeApi([]);
    let clock = 0;
    api.createExport.mockResolvedValueOnce({ id: "e3", status: "queued" });
    api.exportJob.mockImplementation(async () => ({ id: "e3", status: "queued" }));
    const sleep = async (ms: number) => {
      clock += ms;
    };
    await expect(exportDataset(api, { sleep, now: () => clock, timeoutMs: 10_000 })).rejects.toThrow(
      "taking too long",
    );
    expect(api.exportJob.mock.calls.length).toBeLessThan(20);
  });

  it("falls back to GET /api/sft/export where the exports API is missing", async () => {
    const { api } = fakeApi([]);
    api.createExport.mockRejectedValueOnce(new ApiError(404, "Not Found"));
    api.legacyExport.mockResolvedValueOnce(new Blob(['{"messages":[]}\n']));

    const result = await exportDataset(api, { ...noWait, now: () => Date.UTC(2026, 3, 7, 14, 30, 22) });

    expect(result.kind).toBe("file");
    expect(result.kind === "file" && result.filename).toBe("sft_export_20260407-143022.jsonl");
  });

  it("passes other errors on", async () => {
    const { api } = fakeApi([]);
    api.createExport.mockRejectedValueOnce(new ApiError(403, "Forbidden"));
    await expect(exportDataset(api, noWait)).rejects.toThrow("Forbidden");
    expect(api.legacyExport).not.toHaveBeenCalled();
  });
});

describe("downloadUrlOf", () => {
  it.each([
    [{ id: "a", download_url: "https://s3/x" }, "https://s3/x"],
    [{ id: "a", url: "https://s3/y" }, "https://s3/y"],
    [{ id: "a", download: { url: "https://s3/z" } }, "https://s3/z"],
    [{ id: "a", status: "running" }, null],
    [{ id: "a", url: "javascript:alert(1)" }, null],
  ])("%j → %s", (job, expected) => {
    expect(downloadUrlOf(job)).toBe(expected);
  });
});
