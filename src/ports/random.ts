import { randomBytes, randomUUID } from 'node:crypto';

/** Source of unpredictable values. Every implementation must be a CSPRNG. */
export interface Random {
  /** `n` bytes from a CSPRNG. */
  bytes(n: number): Buffer;
  /** An RFC 4122 version 4 UUID. */
  uuid(): string;
}

export const cryptoRandom: Random = {
  bytes: (n) => randomBytes(n),
  uuid: () => randomUUID(),
};
