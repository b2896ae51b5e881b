#!/usr/bin/env node
import { ConfigError } from '../config.js';
import { COMMANDS } from '../cli/commands.js';
import { UsageError, type CliContext } from '../cli/command.js';

// Administration of a KafScale cluster, configured by the same KAFSCALE_* variables as the broker.
function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: kafscale <command> ...',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run "kafscale <command> --help" for its usage. The metadata store is reached with the',
    "broker's variables (KAFSCALE_ETCD_ENDPOINTS, KAFSCALE_CLUSTER_NAME, KAFSCALE_DATA_DIR),",
    'object storage with its KAFSCALE_S3_* variables.',
  ].join('\n');
}

function isParseArgsError(err: unknown): err is Error {
  return (
    err instanceof TypeError && /^ERR_PARSE_ARGS_/.test(String((err as { code?: unknown }).code))
  );
}

async function main(argv: string[]): Promise<number> {
  const cli: CliContext = {
    env: process.env,
    stdin: process.stdin,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? cli.err : cli.out)(help());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    cli.err(`kafscale: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    cli.out(command.usage);
    return 0;
  }
  try {
    return await command.run(args, cli);
  } catch (err) {
    if (err instanceof UsageError || isParseArgsError(err)) {
      cli.err(`kafscale ${name}: ${err.message}\n\n${command.usage}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      cli.err(`kafscale: invalid configuration: ${err.message}`);
      return 2;
    }
    cli.err(`kafscale ${name}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
