import { onBeforeUnmount } from "vue";

/**
 * Calls `tick` now and again every `intervalMs` while it answers `true` (more to watch), never two
 * at once, until the component unmounts. `restart()` starts it again (a new job to watch).
 */
export function usePoll(tick: () => Promise<boolean>, intervalMs = 1_500) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let running = false;

  async function run() {
    clearTimeout(timer);
    if (stopped || running) return;
    running = true;
    let more = false;
    try {
      more = await tick();
    } finally {
      running = false;
    }
    if (more && !stopped) timer = setTimeout(run, intervalMs);
  }

  onBeforeUnmount(() => {
    stopped = true;
    clearTimeout(timer);
  });
  return { restart: () => void run() };
}
