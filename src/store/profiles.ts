import { existsSync, readFileSync } from "node:fs";
import { HeldoutError } from "../core/errors.js";
import { parseProfile } from "../core/profile.js";
import type { Profile } from "../core/types.js";

export function loadProfile(path: string): Profile {
  if (!existsSync(path)) throw new HeldoutError("profile-not-found", "profile not found", { file: path });
  return parseProfile(path, readFileSync(path, "utf8"));
}
