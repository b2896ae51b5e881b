import type { ScramCredentialRecord } from '../../src/metadata/model.js';
import { parsePlain } from '../../src/security/plain.js';
import { SaslAuthenticationError } from '../../src/security/sasl-error.js';
import { ScramServerExchange, createCredential, verifyPassword } from '../../src/security/scram.js';
import { ScramClient } from './scram-client.js';

const text = (b: Buffer) => b.toString('utf8');
const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('SCRAM-SHA-256: the RFC 7677 test vector', () => {
  const clientFirst = 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO';
  const serverNonce = '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const serverFirst =
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  const clientFinal =
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,' +
    'p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
  const serverFinal = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';
  let credential: ScramCredentialRecord;

  beforeAll(async () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    credential = await createCredential('SCRAM-SHA-256', 'pencil', 4096, salt);
  });

  test('the server answers exactly the messages of the RFC', async () => {
    const lookups: string[] = [];
    const server = new ScramServerExchange(
      'SCRAM-SHA-256',
      async (user) => {
        lookups.push(user);
        return credential;
      },
      () => serverNonce,
    );
    expect(text(await server.receive(bytes(clientFirst)))).toBe(serverFirst);
    expect(server.done).toBe(false);
    expect(text(await server.receive(bytes(clientFinal)))).toBe(serverFinal);
    expect(server.done).toBe(true);
    expect(server.user).toBe('user');
    expect(lookups).toEqual(['user']);
  });

  test('the independent test client computes the same proof and accepts the signature', () => {
    const client = new ScramClient('SCRAM-SHA-256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
    expect(client.clientFirst).toBe(clientFirst);
    expect(client.clientFinal(serverFirst)).toBe(clientFinal);
    expect(client.verifyServerFinal(serverFinal)).toBe(true);
  });

  test('PLAIN verification derives the same stored key', async () => {
    await expect(verifyPassword('SCRAM-SHA-256', credential, 'pencil')).resolves.toBe(true);
    await expect(verifyPassword('SCRAM-SHA-256', credential, 'pencil ')).resolves.toBe(false);
  });
});

describe('SCRAM-SHA-512 and SCRAM-SHA-256 round trips', () => {
  const users = new Map<string, Record<string, ScramCredentialRecord>>();

  beforeAll(async () => {
    for (const [name, password] of [
      ['alice', 'correct horse'],
      ['b,o=b', 'pässwörd ✓'],
    ]) {
      users.set(name, {
        'SCRAM-SHA-256': await createCredential('SCRAM-SHA-256', password, 4096),
        'SCRAM-SHA-512': await createCredential('SCRAM-SHA-512', password, 4096),
      });
    }
  });

  function exchange(mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512'): ScramServerExchange {
    return new ScramServerExchange(mechanism, async (user) => users.get(user)?.[mechanism]);
  }

  async function run(
    mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512',
    user: string,
    password: string,
    final = (client: ScramClient, serverFirst: string) => client.clientFinal(serverFirst),
  ): Promise<{ server: ScramServerExchange; client: ScramClient; serverFinal: string }> {
    const server = exchange(mechanism);
    const client = new ScramClient(mechanism, user, password);
    const serverFirst = text(await server.receive(bytes(client.clientFirst)));
    const serverFinal = text(await server.receive(bytes(final(client, serverFirst))));
    return { server, client, serverFinal };
  }

  test.each(['SCRAM-SHA-512', 'SCRAM-SHA-256'] as const)(
    '%s: right password authenticates both ways, escaped names and UTF-8 passwords included',
    async (mechanism) => {
      for (const [user, password] of [
        ['alice', 'correct horse'],
        ['b,o=b', 'pässwörd ✓'],
      ]) {
        const { server, client, serverFinal } = await run(mechanism, user, password);
        expect(server.done).toBe(true);
        expect(server.user).toBe(user);
        expect(client.verifyServerFinal(serverFinal)).toBe(true);
      }
    },
  );

  test.each(['SCRAM-SHA-512', 'SCRAM-SHA-256'] as const)(
    '%s: a wrong password or an unknown user fails at the proof, with the same message',
    async (mechanism) => {
      const message = `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`;
      await expect(run(mechanism, 'alice', 'wrong')).rejects.toThrow(message);
      await expect(run(mechanism, 'mallory', 'anything')).rejects.toThrow(message);
    },
  );

  test('an unknown user gets a stable made-up salt, so probing does not reveal it', async () => {
    const first = async (user: string) => {
      const server = exchange('SCRAM-SHA-512');
      const reply = text(
        await server.receive(bytes(new ScramClient('SCRAM-SHA-512', user, 'x').clientFirst)),
      );
      return reply.split(',').slice(1).join(',');
    };
    expect(await first('mallory')).toBe(await first('mallory'));
    expect(await first('mallory')).not.toBe(await first('trudy'));
    expect(await first('mallory')).toMatch(/^s=[A-Za-z0-9+/]+=*,i=8192$/);
  });

  test("the nonce must be the combined one (or librdkafka's client nonce + combined)", async () => {
    await expect(
      run('SCRAM-SHA-512', 'alice', 'correct horse', (c, sf) => c.clientFinal(sf, 'forged')),
    ).rejects.toThrow('nonce mismatch');
    const librdkafka = await run('SCRAM-SHA-512', 'alice', 'correct horse', (c, sf) =>
      c.clientFinal(sf, c.clientNonce + sf.split(',')[0].slice(2)),
    );
    expect(librdkafka.server.done).toBe(true);
  });

  test.each([
    ['channel binding', 'p=tls-unique,,n=alice,r=abc', 'channel binding is not supported'],
    ['mandatory extension', 'n,,m=ext,n=alice,r=abc', 'mandatory extensions'],
    ['delegation token', 'n,,n=alice,r=abc,tokenauth=true', 'delegation tokens'],
    ['other authzid', 'n,a=bob,n=alice,r=abc', 'authorization id'],
    ['bad escape', 'n,,n=al=ice,r=abc', 'user name encoding'],
    ['comma in nonce', 'n,,n=alice,r=a,b', 'malformed'],
    ['no gs2 header', 'n=alice,r=abc', 'malformed'],
  ])('client-first with %s is refused', async (_, message, expected) => {
    const error = await exchange('SCRAM-SHA-256')
      .receive(bytes(message))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SaslAuthenticationError);
    expect((error as Error).message).toContain(expected);
  });

  test('client-final with a changed GS2 header or without a proof is refused', async () => {
    for (const [final, expected] of [
      [(sf: string) => `c=eSws,r=${sf.split(',')[0].slice(2)},p=AAAA`, 'channel binding data'],
      [(sf: string) => `c=biws,r=${sf.split(',')[0].slice(2)}`, 'proof missing'],
    ] as const) {
      const server = exchange('SCRAM-SHA-256');
      const sf = text(
        await server.receive(bytes(new ScramClient('SCRAM-SHA-256', 'alice', 'x').clientFirst)),
      );
      await expect(server.receive(bytes(final(sf)))).rejects.toThrow(expected);
    }
  });
});

describe('PLAIN messages', () => {
  test('authzid NUL user NUL password', () => {
    expect(parsePlain(bytes('\0alice\0p w'))).toEqual({
      authzid: '',
      user: 'alice',
      password: 'p w',
    });
    expect(parsePlain(bytes('alice\0alice\0pw')).authzid).toBe('alice');
    for (const bad of ['alice\0pw', '\0\0pw', '\0alice\0', '\0a\0b\0c']) {
      expect(() => parsePlain(bytes(bad))).toThrow(SaslAuthenticationError);
    }
  });
});
