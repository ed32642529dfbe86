#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/ into dist/ by `npm run build` (run automatically by `npm install`).
import "../dist/cli/main.js";
