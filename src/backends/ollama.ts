import type { Generation } from "../core/types.js";
import type { Backend, BatchResult, ContextSettings, GenerationRequest, LoadedModelInfo, LoadTarget, PreparedPrompt } from "./backend.js";

/** Ollama's API through the `ollama` package: being written (see issue 12). */
export class OllamaBackend implements Backend {
  readonly kind = "ollama";
  async load(_target: LoadTarget): Promise<LoadedModelInfo> {
    throw new Error("the ollama backend is not available yet");
  }
  async preparePrompt(text: string): Promise<PreparedPrompt> {
    return { text, tokenIds: [], chatTemplate: null, stopStrings: [] };
  }
  async generateAll(_r: GenerationRequest[], _c: ContextSettings, _o: (r: GenerationRequest, g: Generation) => void): Promise<BatchResult> {
    throw new Error("the ollama backend is not available yet");
  }
  async vramUsedBytes(): Promise<number | null> {
    return null;
  }
  async unload(): Promise<void> {}
}
