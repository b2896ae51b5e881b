import winston from 'winston';

export type Logger = winston.Logger;

/** Structured JSON logs, one line per event, on stdout. */
export function createLogger(level = process.env.KAFSCALE_LOG_LEVEL ?? 'info'): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}

/** A logger that drops everything, for tests and tools. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
}
