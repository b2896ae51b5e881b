import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runOperator } from './run.js';

export { parseFlags, runOperator, type RunningOperator } from './run.js';

/** The operator's entry point: runs until SIGTERM or SIGINT, then shuts down gracefully. */
export async function main(args: string[]): Promise<void> {
  const operator = await runOperator(args);
  const shutdown = (signal: string) => {
    operator.logger.info('signal received', { signal });
    operator.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        operator.logger.error('shutdown failed', { error: String(e) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
