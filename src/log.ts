import pino from 'pino';

/**
 * The service logger: JSON lines on stderr. Credentials never reach a log call by
 * design; redaction is the second line of defence should one slip into an object.
 */
export function createLogger(level: string, destination: number = 2): pino.Logger {
  return pino(
    {
      level,
      base: { service: 'portcullis' },
      redact: {
        paths: ['password', '*.password', 'token', '*.token', 'csrf', '*.csrf', 'headers.authorization', 'headers.cookie', 'headers["x-hm-authorization"]'],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: destination, sync: false }),
  );
}
