/**
 * Peak memory while a model is loaded and generating: process RSS (which includes the model's
 * weights and KV cache when they live in RAM) and device memory in use, sampled every `everyMs`.
 * Sampling catches peaks that last at least one interval; the final sample catches the end state.
 */
export interface MemoryPeaks {
  peakRssBytes: number;
  peakVramBytes: number | null;
}

export function startMemorySampler(vram: () => Promise<number | null>, everyMs = 50): { stop(): Promise<MemoryPeaks> } {
  let peakRss = process.memoryUsage.rss();
  let peakVram: number | null = null;
  let pending: Promise<void> = Promise.resolve();
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    pending = vram()
      .then((v) => {
        if (v !== null) peakVram = Math.max(peakVram ?? 0, v);
      })
      .catch(() => undefined);
  };
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      sample();
      await pending;
      return { peakRssBytes: peakRss, peakVramBytes: peakVram };
    },
  };
}
