/**
 * Syntactic rules for names and secrets, shared by every dialect and the CLI.
 * They look only at the text, never at the store, so they reveal nothing about
 * which accounts exist.
 */

export const MAX_USERNAME_LENGTH = 256;
export const MAX_PASSWORD_LENGTH = 1024;
const CONTROL = /\p{Cc}/u;

/** Returns why the username is unacceptable, or null when it is fine. */
export function usernameProblem(username: string): string | null {
  if (username.length === 0) return 'must not be empty';
  if (username.length > MAX_USERNAME_LENGTH) return `must be at most ${MAX_USERNAME_LENGTH} characters`;
  if (!username.isWellFormed()) return 'is not well-formed Unicode';
  if (CONTROL.test(username)) return 'must not contain control characters';
  if (username.trim() !== username) return 'must not start or end with white space';
  return null;
}

/** Returns why the password cannot be checked at all, or null when it can. */
export function passwordProblem(password: string): string | null {
  if (password.length === 0) return 'must not be empty';
  if (password.length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters`;
  if (!password.isWellFormed()) return 'is not well-formed Unicode';
  if (password.includes('\u0000')) return 'must not contain NUL characters';
  return null;
}

/** Canonical form under which usernames are stored and compared. */
export function normalizeUsername(username: string): string {
  return username.normalize('NFC');
}

/** Rules for a new password (set by an administrator or the user). */
export function newPasswordProblem(password: string, username: string, minLength: number): string | null {
  const basic = passwordProblem(password);
  if (basic) return basic;
  if ([...password].length < minLength) return `must be at least ${minLength} characters`;
  if (password.normalize('NFC').toLowerCase() === username.normalize('NFC').toLowerCase()) {
    return 'must not be the same as the username';
  }
  return null;
}
