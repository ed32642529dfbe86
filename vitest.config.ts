import { defineConfig } from "vitest/config";

// Model tests run one file at a time in forked processes, so two models never fight for the
// cores (timing assertions stay meaningful) and a native crash cannot take down another file.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
