#!/usr/bin/env node
import { env } from '@tensorflow/tfjs-core';
import { processIO } from './io.js';
import { main } from './main.js';

// PROD: tfjs skips debug-only checks and its console banners (the CLI owns the terminal).
env().set('PROD', true);

main(process.argv.slice(2), processIO).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // main() turns every error into a message and a code; this is only reached if printing itself failed.
    process.stderr.write(`altar: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
