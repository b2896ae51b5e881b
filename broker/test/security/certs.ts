// Test certificates made with the openssl CLI (node:crypto cannot build X.509): a CA, and leaf
// certificates it signs, with EC keys because they are fast to generate.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Issued {
  cert: string;
  key: string;
}

const NEW_EC_KEY = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';

/** Runs openssl with space-separated arguments (the temp paths used here have no spaces). */
function openssl(args: string): void {
  execFileSync('openssl', args.split(' '), { stdio: ['ignore', 'ignore', 'pipe'] });
}

export class TestCa {
  readonly cert: string;
  private readonly key: string;

  constructor(readonly dir: string) {
    this.cert = path.join(dir, 'ca.pem');
    this.key = path.join(dir, 'ca.key');
    openssl(
      `req -x509 ${NEW_EC_KEY} -keyout ${this.key} -out ${this.cert} -days 2 -subj /CN=test-ca`,
    );
  }

  /** A certificate for 127.0.0.1 and localhost signed by this CA: {name}.pem and {name}.key. */
  issue(name: string, commonName: string): Issued {
    const [cert, key, csr, ext] = ['pem', 'key', 'csr', 'ext'].map((suffix) =>
      path.join(this.dir, `${name}.${suffix}`),
    );
    fs.writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl(`req ${NEW_EC_KEY} -keyout ${key} -out ${csr} -subj /CN=${commonName}`);
    openssl(
      `x509 -req -in ${csr} -CA ${this.cert} -CAkey ${this.key} -CAcreateserial ` +
        `-out ${cert} -days 2 -extfile ${ext}`,
    );
    return { cert, key };
  }
}

/** A self-signed certificate that no test CA vouches for. */
export function selfSigned(dir: string, name: string): Issued {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}.key`);
  openssl(`req -x509 ${NEW_EC_KEY} -keyout ${key} -out ${cert} -days 2 -subj /CN=${name}`);
  return { cert, key };
}
