/**
 * One-way password hashing. `verify` must take the same time whether or not the
 * hash matches; `needsRehash` says whether a stored hash was made with other
 * parameters than the current ones, so login can upgrade it.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  needsRehash(hash: string): boolean;
}
