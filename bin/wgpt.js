#!/usr/bin/env node
// Entry point for `npx wgpt`: the project runs from its TypeScript sources (no build step),
// so register tsx's loader and hand over to the real CLI.
import { register } from 'tsx/esm/api';
register();
await import('./wgpt.ts');
