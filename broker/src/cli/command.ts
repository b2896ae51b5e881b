// The shape of a `kafscale` subcommand. Each command lives in its own file under src/cli/ and is
// listed in commands.ts; the bin only dispatches on the first argument.

export interface CliContext {
  /** KAFSCALE_* variables, the same the broker reads (to reach the same metadata store). */
  env: Record<string, string | undefined>;
  stdin: NodeJS.ReadableStream;
  out(line: string): void;
  err(line: string): void;
}

export interface CliCommand {
  name: string;
  /** One line for `kafscale help`. */
  summary: string;
  /** Full usage, printed with `kafscale <name> --help` and after a usage error. */
  usage: string;
  /** Resolves with the exit code; throws UsageError for bad arguments. */
  run(args: string[], cli: CliContext): Promise<number>;
}

/** Bad arguments: exit code 2 and the command's usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
