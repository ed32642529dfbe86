/**
 * Child process: can this machine's GPU binding actually decode? Loads the model with the GPU,
 * evaluates a few tokens and prints one JSON line. If the native code aborts, only this process
 * dies, and the parent falls back to the CPU saying why (see llama-engine.ts).
 */
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { SOURCE_BUILD_CMAKE_OPTIONS } from "./llama-engine.js";

const [modelPath, binary] = process.argv.slice(2);
let gpu: string | false = false;
try {
  const base = { gpu: "auto", logLevel: LlamaLogLevel.error, progressLogs: false, skipDownload: true, build: "never" } as const;
  const llama =
    binary === "prebuilt"
      ? await getLlama({ ...base, usePrebuiltBinaries: true })
      : await getLlama({ ...base, usePrebuiltBinaries: false, cmakeOptions: { ...SOURCE_BUILD_CMAKE_OPTIONS } }).catch(() => getLlama({ ...base, usePrebuiltBinaries: true }));
  gpu = llama.gpu;
  if (gpu !== false && modelPath) {
    const model = await llama.loadModel({ modelPath, gpuLayers: "max" });
    const context = await model.createContext({ contextSize: 64, threads: 1 });
    const sequence = context.getSequence();
    const tokens = model.tokenize("Hello", true);
    let n = 0;
    for await (const _ of sequence.evaluate(tokens, { temperature: 0 })) if (++n >= 4) break;
    await context.dispose();
    await model.dispose();
  }
  process.stdout.write(`${JSON.stringify({ ok: true, gpu })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, gpu, error: (error as Error).message })}\n`);
}
process.exit(0);
