#!/usr/bin/env node
import { runCli } from './commands';

// The `express-cache-kit` bin. Everything lives in ./commands so tests and other tools can run
// the CLI in-process; this file only binds it to the process.
if (require.main === module) {
  runCli(process.argv.slice(2), { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`express-cache-kit: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
