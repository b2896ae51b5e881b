// What the harness reads about processes and the machine: CPU time and resident memory of a
// process from /proc, and a description of the machine for the results.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds the process has used so far (from /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces and parentheses; the fields after the last ')' do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of proc(5); the slice starts at field 3.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** VmRSS and VmHWM (peak RSS since start) of a process, in bytes. */
export function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

/** Samples a process's RSS every interval while running; peak is the largest sample. */
export class RssSampler {
  peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: () => number | undefined,
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const pid = this.pid();
    if (pid === undefined) return;
    try {
      const { rss } = memory(pid);
      if (Number.isFinite(rss)) this.peak = Math.max(this.peak, rss);
    } catch {
      // The process is restarting or gone.
    }
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return '(unavailable)';
  }
}

export interface MachineInfo {
  nproc: string;
  cpuModel: string;
  memory: string;
  node: string;
  os: string;
  kcat: string;
  librdkafka: string;
  commit: string;
  /** Files of broker/src changed but not committed when the run started. */
  uncommittedBrokerFiles: string[];
  /** KAFSCALE_PACK_SEGMENTS as the brokers inherit it; unset means the code's default. */
  packSegments: string;
  /** 1, 5 and 15 minute load averages when the run started: other work on the machine. */
  loadAverage: number[];
}

export function machineInfo(python: string): MachineInfo {
  const status = run('git', ['status', '--porcelain', '--', 'broker/src']);
  return {
    nproc: run('nproc', []),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memory: run('free', ['-h']),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    kcat: run('kcat', ['-V']).split('\n')[0] ?? '',
    librdkafka: run(python, [
      '-c',
      'import confluent_kafka as c; print(c.version()[0], "/ librdkafka", c.libversion()[0])',
    ]),
    commit: run('git', ['rev-parse', '--short', 'HEAD']),
    uncommittedBrokerFiles: status === '' || status === '(unavailable)' ? [] : status.split('\n'),
    packSegments: process.env['KAFSCALE_PACK_SEGMENTS'] ?? '(unset: code default)',
    loadAverage: os.loadavg(),
  };
}
