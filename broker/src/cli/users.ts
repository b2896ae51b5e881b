// `kafscale users`: SASL users in the metadata store. Only salted SCRAM credentials are stored;
// the password is read from stdin (never from the command line, where `ps` would show it).

import { parseArgs } from 'node:util';
import { UserStore } from '../metadata/cluster-metadata.js';
import type { UserRecord } from '../metadata/model.js';
import {
  isScramMechanism,
  SCRAM_DEFAULT_ITERATIONS,
  SCRAM_MAX_ITERATIONS,
  SCRAM_MECHANISMS,
  SCRAM_MIN_ITERATIONS,
  type ScramMechanism,
} from '../security/mechanisms.js';
import { createCredential } from '../security/scram.js';
import { UsageError, type CliCommand, type CliContext } from './command.js';
import { withClusterMetadata } from './metadata-access.js';

const USAGE = `Usage:
  kafscale users add <name> --password-stdin [--mechanism SCRAM-SHA-512] [--iterations 8192]
  kafscale users delete <name>
  kafscale users list

add creates the user, or replaces all its credentials (a password change). Without
--mechanism it stores SCRAM-SHA-512 and SCRAM-SHA-256 credentials; --mechanism may be repeated.
PLAIN verifies passwords against whichever SCRAM credential is stored.`;

async function readPassword(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  // `echo secret | kafscale users add ...` adds one line ending that is not part of the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function userName(positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError('expected exactly one user name');
  const name = positionals[0];
  // NUL separates the fields of a PLAIN message; other control characters only cause confusion.
  if (name === '' || /[\p{Cc}]/u.test(name)) throw new UsageError('invalid user name');
  return name;
}

async function add(args: string[], cli: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'password-stdin': { type: 'boolean' },
      mechanism: { type: 'string', multiple: true },
      iterations: { type: 'string' },
    },
  });
  const name = userName(positionals);
  if (!values['password-stdin']) throw new UsageError('--password-stdin is required');
  const mechanisms: ScramMechanism[] = [];
  for (const m of values.mechanism ?? SCRAM_MECHANISMS) {
    const upper = m.toUpperCase();
    if (!isScramMechanism(upper)) {
      throw new UsageError(`--mechanism must be ${SCRAM_MECHANISMS.join(' or ')}, got "${m}"`);
    }
    if (!mechanisms.includes(upper)) mechanisms.push(upper);
  }
  const iterations = Number(values.iterations ?? SCRAM_DEFAULT_ITERATIONS);
  if (
    !Number.isInteger(iterations) ||
    iterations < SCRAM_MIN_ITERATIONS ||
    iterations > SCRAM_MAX_ITERATIONS
  ) {
    throw new UsageError(
      `--iterations must be an integer from ${SCRAM_MIN_ITERATIONS} to ${SCRAM_MAX_ITERATIONS}`,
    );
  }
  const password = await readPassword(cli.stdin);
  if (password === '') {
    cli.err('kafscale: empty password on stdin');
    return 1;
  }
  const user: UserRecord = { name, credentials: {}, updatedAt: Date.now() };
  for (const mechanism of mechanisms) {
    user.credentials[mechanism] = await createCredential(mechanism, password, iterations);
  }
  const created = await withClusterMetadata(cli.env, (metadata) =>
    new UserStore(metadata).put(user),
  );
  cli.out(`${created ? 'created' : 'updated'} user ${name} (${mechanisms.join(', ')})`);
  return 0;
}

async function remove(args: string[], cli: CliContext): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const name = userName(positionals);
  const deleted = await withClusterMetadata(cli.env, (metadata) =>
    new UserStore(metadata).delete(name),
  );
  if (!deleted) {
    cli.err(`kafscale: no user ${name}`);
    return 1;
  }
  cli.out(`deleted user ${name}`);
  return 0;
}

async function list(args: string[], cli: CliContext): Promise<number> {
  parseArgs({ args, options: {} });
  const users = await withClusterMetadata(cli.env, (metadata) => new UserStore(metadata).list());
  // One user a line: name, tab, its mechanisms (names may contain spaces, never tabs).
  for (const user of users) {
    cli.out(`${user.name}\t${Object.keys(user.credentials).sort().join(',')}`);
  }
  return 0;
}

export const usersCommand: CliCommand = {
  name: 'users',
  summary: 'add, delete and list SASL users (SCRAM credentials)',
  usage: USAGE,
  async run(args, cli) {
    const [sub, ...rest] = args;
    if (sub === 'add') return add(rest, cli);
    if (sub === 'delete') return remove(rest, cli);
    if (sub === 'list') return list(rest, cli);
    throw new UsageError(sub ? `unknown users subcommand "${sub}"` : 'missing users subcommand');
  },
};
