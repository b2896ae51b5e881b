import { execFileSync } from 'node:child_process';
import { BrokerProcess } from '../support/broker-process.js';

let broker: BrokerProcess;
beforeAll(async () => {
  broker = await BrokerProcess.start();
});
afterAll(async () => {
  await broker.destroy();
});

test('kcat -L answers and kcat produces and consumes through the broker', () => {
  const metadata = execFileSync('kcat', ['-L', '-b', broker.bootstrap], { encoding: 'utf8' });
  expect(metadata).toContain(`broker 0 at ${broker.bootstrap}`);
  const lines = Array.from({ length: 500 }, (_, i) => `message-${i}`);
  execFileSync('kcat', ['-P', '-b', broker.bootstrap, '-t', 'smoke'], {
    input: lines.join('\n') + '\n',
  });
  const consumed = execFileSync(
    'kcat',
    ['-C', '-b', broker.bootstrap, '-t', 'smoke', '-o', 'beginning', '-e', '-q', '-f', '%o %s\n'],
    {
      encoding: 'utf8',
    },
  );
  expect(consumed.trim().split('\n')).toEqual(lines.map((l, i) => `${i} ${l}`));
});
