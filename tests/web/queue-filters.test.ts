// @vitest-environment happy-dom
import { mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import QueuePage from "../../web/src/pages/QueuePage.vue";
import { cleanFilters, createReviewSession, MAX_COUNTED } from "../../web/src/review-session.ts";
import type { Candidate, QueuePage as QueuePageReply } from "../../web/src/types.ts";
import { candidate, fakeApi, settle } from "./fixtures.ts";

let wrapper: VueWrapper | undefined;

afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  sessionStorage.clear();
  window.location.hash = "";
});

/** A fake API whose queue listing and `next` honour the filters, as the API does. */
function filteringApi(items: Candidate[], totalFor: (filters: Record<string, string>) => number | null) {
  const fake = fakeApi(items);
  const matches = (item: Candidate, filters: Record<string, string>) =>
    (!filters.model || item.model_name === filters.model) &&
    (!filters.task_type || item.task_type === filters.task_type) &&
    (!filters.run_id || item.benchmark_run_id === filters.run_id);
  fake.api.queue.mockImplementation((async (query: {
    perPage?: number;
    cursor?: string | null;
    filters?: Record<string, string>;
  }) => {
    const filters = query.filters ?? {};
    const all = fake.queue.filter((item) => matches(item, filters));
    const start = Number(query.cursor ?? 0);
    const size = query.perPage ?? 20;
    const page = all.slice(start, start + size);
    const end = start + page.length;
    return {
      items: page,
      total: totalFor(filters),
      page: 1,
      per_page: size,
      next_cursor: end < all.length ? String(end) : null,
    } satisfies QueuePageReply;
  }) as never);
  const next = fake.api.next.getMockImplementation();
  fake.api.next.mockImplementation(
    async (skip: readonly string[] = [], filters: Record<string, string> = {}) => {
      const hidden = fake.queue.filter((item) => !matches(item, filters)).map((item) => item.id);
      return (next as NonNullable<typeof next>)([...skip, ...hidden]);
    },
  );
  fake.api.stats.mockResolvedValue({
    total: items.length,
    by_status: { needs_review: items.length, approved: 0, discarded: 0, model_rejected: 0 },
    by_model: { "Qwen2.5-3B": 2, "Llama-3.2-3B": 1, "Gone-1B": 0 },
    by_task_type: { math: 3 },
    by_source: { benchmark: 3 },
    export_ready: 0,
  });
  fake.api.runs.mockResolvedValue([
    {
      run_id: "run-a",
      timestamp: null,
      candidate_count: 2,
      already_imported: true,
      import_state: "completed",
      imported: 2,
      skipped: 0,
      quarantined: 0,
    },
  ] as never);
  return fake;
}

const items = () => [
  candidate(1, { benchmark_run_id: "run-a" }),
  candidate(2, { model_name: "Llama-3.2-3B", benchmark_run_id: "run-b" }),
  candidate(3, { benchmark_run_id: "run-a" }),
];

describe("cleanFilters", () => {
  it("keeps the four filters that are set, trimmed, and nothing else", () => {
    expect(
      cleanFilters({ model: " Qwen ", task_type: "", run_id: "r1", page: "2", source: undefined }),
    ).toEqual({
      model: "Qwen",
      run_id: "r1",
    });
  });
});

describe("the review session under filters", () => {
  it("leases only within the filters and counts the queue from the API's total", async () => {
    const fake = filteringApi(items(), (filters) => (filters.model === "Llama-3.2-3B" ? 1 : null));
    const session = createReviewSession(fake.api, null);
    expect(session.setFilters({ model: "Llama-3.2-3B" })).toBe(true);
    expect(session.setFilters({ model: "Llama-3.2-3B" })).toBe(false);
    await session.load();

    expect(fake.api.next).toHaveBeenCalledWith([], { model: "Llama-3.2-3B" });
    expect(session.state.items.map((item) => item.id)).toEqual(["run-002"]);
    expect(session.state.remaining).toBe(1);
    expect(session.state.remainingAtLeast).toBe(false);
  });

  it("counts a filter the API has no total for by paging, and says when it stopped counting", async () => {
    const many = Array.from({ length: MAX_COUNTED + 150 }, (_, i) =>
      candidate(i, { benchmark_run_id: "big" }),
    );
    const fake = filteringApi([...items(), ...many], () => null);
    const session = createReviewSession(fake.api, null);

    session.setFilters({ run_id: "run-a" });
    await session.load();
    expect(session.state.remaining).toBe(2);
    expect(session.state.remainingAtLeast).toBe(false);

    session.setFilters({ run_id: "big" });
    await session.load();
    expect(session.state.remaining).toBe(MAX_COUNTED);
    expect(session.state.remainingAtLeast).toBe(true);
  });
});

describe("QueuePage filters", () => {
  async function page(query: Record<string, string>) {
    const fake = filteringApi(items(), (filters) => (Object.keys(filters).length === 0 ? 3 : null));
    const session = createReviewSession(fake.api, null);
    wrapper = mount(QueuePage, {
      attachTo: document.body,
      props: { session, api: fake.api, query, helpOpen: false },
    });
    await settle();
    return { fake, session };
  }

  it("opens the queue the URL names: its filters selected, leases and count within them", async () => {
    const { fake, session } = await page({ run_id: "run-a" });
    const select = wrapper?.get<HTMLSelectElement>('select[data-filter="run_id"]');
    expect(select?.element.value).toBe("run-a");
    expect(fake.api.next).toHaveBeenCalledWith([], { run_id: "run-a" });
    expect(session.state.remaining).toBe(2);
    expect(wrapper?.get('[data-testid="queue-card"] .mono').text()).toBe("run-001");
  });

  it("offers the stats' own values (none with a zero count) and puts a choice in the URL", async () => {
    await page({ task_type: "math" });
    const models = wrapper?.findAll('select[data-filter="model"] option').map((option) => option.text());
    expect(models).toEqual(["Any", "Llama-3.2-3B", "Qwen2.5-3B"]);
    const runs = wrapper?.findAll('select[data-filter="run_id"] option').map((option) => option.text());
    expect(runs).toEqual(["Any", "run-a"]);

    await wrapper?.get('select[data-filter="model"]').setValue("Llama-3.2-3B");
    expect(window.location.hash).toBe("#/queue?model=Llama-3.2-3B&task_type=math");
    expect(wrapper?.find('[data-testid="clear-filters"]').attributes("href")).toBe("#/queue");
  });

  it("reloads within new filters when the URL changes", async () => {
    const { fake, session } = await page({});
    expect(session.state.remaining).toBe(3);
    await wrapper?.setProps({ query: { model: "Llama-3.2-3B" } });
    await settle();
    expect(fake.api.next).toHaveBeenLastCalledWith([], { model: "Llama-3.2-3B" });
    expect(session.state.items.map((item) => item.id)).toEqual(["run-002"]);
    expect(fake.api.release).toHaveBeenCalled();
  });
});
