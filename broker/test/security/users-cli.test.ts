import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClusterMetadata, UserStore } from '../../src/metadata/cluster-metadata.js';
import { EmbeddedMetadataStore } from '../../src/metadata/embedded-metadata-store.js';
import type { UserRecord } from '../../src/metadata/model.js';
import { verifyPassword } from '../../src/security/scram.js';
import { kafscale } from './cli.js';

const PASSWORD = 'Tr0ub4dor&3-not-in-any-file';

let dataDir: string;
let env: Record<string, string>;

beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafscale-users-'));
  env = { KAFSCALE_DATA_DIR: dataDir, KAFSCALE_CLUSTER_NAME: 'users-test' };
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function readUsers(): Promise<UserRecord[]> {
  const store = await EmbeddedMetadataStore.open(path.join(dataDir, 'metadata'));
  try {
    const metadata = await ClusterMetadata.open(store, 'users-test');
    const users = await new UserStore(metadata).list();
    await metadata.close();
    return users;
  } finally {
    await store.close();
  }
}

/** Every byte the metadata store keeps on disk (log and snapshot). */
function storeBytes(): Buffer {
  const dir = path.join(dataDir, 'metadata');
  return Buffer.concat(fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f))));
}

test('users add, list, replace and delete through the CLI; only salted credentials are stored', async () => {
  const added = await kafscale(['users', 'add', 'alice', '--password-stdin'], env, `${PASSWORD}\n`);
  expect(added).toMatchObject({
    code: 0,
    stdout: 'created user alice (SCRAM-SHA-512, SCRAM-SHA-256)\n',
  });
  const bob = await kafscale(
    [
      'users',
      'add',
      'bob, the admin',
      '--password-stdin',
      '--mechanism',
      'scram-sha-256',
      '--iterations',
      '4096',
    ],
    env,
    'bobs password',
  );
  expect(bob).toMatchObject({ code: 0, stdout: 'created user bob, the admin (SCRAM-SHA-256)\n' });
  const listed = await kafscale(['users', 'list'], env);
  expect(listed).toMatchObject({
    code: 0,
    stdout: 'alice\tSCRAM-SHA-256,SCRAM-SHA-512\nbob, the admin\tSCRAM-SHA-256\n',
  });

  const [alice, bobRecord] = await readUsers();
  expect(alice.name).toBe('alice');
  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    const credential = alice.credentials[mechanism]!;
    expect(credential.iterations).toBe(8192);
    // The trailing newline of the input is not part of the password.
    await expect(verifyPassword(mechanism, credential, PASSWORD)).resolves.toBe(true);
    await expect(verifyPassword(mechanism, credential, `${PASSWORD}\n`)).resolves.toBe(false);
  }
  expect(bobRecord.credentials['SCRAM-SHA-512']).toBeUndefined();
  expect(bobRecord.credentials['SCRAM-SHA-256']!.iterations).toBe(4096);

  const disk = storeBytes();
  for (const secret of [PASSWORD, 'bobs password']) {
    for (const encoding of ['utf8', 'base64', 'hex'] as const) {
      expect(disk.includes(Buffer.from(Buffer.from(secret).toString(encoding)))).toBe(false);
    }
  }
  expect(added.stdout + added.stderr + listed.stdout).not.toContain(PASSWORD);

  // add again: a password change replaces every credential.
  const changed = await kafscale(
    ['users', 'add', 'alice', '--password-stdin'],
    env,
    'new password',
  );
  expect(changed).toMatchObject({
    code: 0,
    stdout: 'updated user alice (SCRAM-SHA-512, SCRAM-SHA-256)\n',
  });
  const [aliceAfter] = await readUsers();
  await expect(
    verifyPassword('SCRAM-SHA-512', aliceAfter.credentials['SCRAM-SHA-512']!, PASSWORD),
  ).resolves.toBe(false);
  await expect(
    verifyPassword('SCRAM-SHA-512', aliceAfter.credentials['SCRAM-SHA-512']!, 'new password'),
  ).resolves.toBe(true);

  expect(await kafscale(['users', 'delete', 'alice'], env)).toMatchObject({
    code: 0,
    stdout: 'deleted user alice\n',
  });
  expect(await kafscale(['users', 'delete', 'alice'], env)).toMatchObject({
    code: 1,
    stderr: 'kafscale: no user alice\n',
  });
  expect((await readUsers()).map((u) => u.name)).toEqual(['bob, the admin']);
});

test('bad invocations exit non-zero with a message and change nothing', async () => {
  const cases: [string[], string, number, RegExp][] = [
    [['users', 'add', 'carol'], 'pw', 2, /--password-stdin is required/],
    [['users', 'add', 'carol', '--password-stdin'], '\n', 1, /empty password/],
    [
      ['users', 'add', 'carol', '--password-stdin', '--mechanism', 'PLAIN'],
      'pw',
      2,
      /--mechanism must be/,
    ],
    [['users', 'add', 'carol', '--password-stdin', '--iterations', '100'], 'pw', 2, /--iterations/],
    [['users', 'add', 'carol', '--password', 'pw'], '', 2, /Unknown option '--password'/],
    [['users', 'add', '--password-stdin'], 'pw', 2, /exactly one user name/],
    [['users', 'rename', 'carol'], '', 2, /unknown users subcommand/],
    [['nonsense'], '', 2, /unknown command "nonsense"/],
    [[], '', 2, /Usage: kafscale <command>/],
  ];
  const results = await Promise.all(cases.map(([args, input]) => kafscale(args, env, input)));
  cases.forEach(([args, , code, message], i) => {
    expect({ args, code: results[i].code }).toEqual({ args, code });
    expect(results[i].stderr).toMatch(message);
  });
  const help = await kafscale(['users', '--help'], env);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('kafscale users add <name> --password-stdin');
  expect((await readUsers()).some((u) => u.name === 'carol')).toBe(false);
});
