import type { BackendKind } from "../core/types.js";
import type { Backend } from "./backend.js";
import { LlamaBackend } from "./llama.js";
import { LlamaServerEngineBackend } from "./llama-server-engine.js";
import { OllamaBackend } from "./ollama.js";
import { OpenAIBackend } from "./openai.js";
import { OutputsBackend } from "./outputs.js";

/** The backends by manifest name: a plain map, no registration side effects. */
export function createBackend(kind: BackendKind, engine: "embedded" | "llama-server" = "embedded"): Backend {
  switch (kind) {
    case "llama":
      return engine === "llama-server" ? new LlamaServerEngineBackend() : new LlamaBackend();
    case "openai":
      return new OpenAIBackend();
    case "ollama":
      return new OllamaBackend();
    case "outputs":
      return new OutputsBackend();
  }
}
