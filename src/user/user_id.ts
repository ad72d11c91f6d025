/**
 * The rule for user ids of the user realtime API: the open route's `{user_id}` path segment and
 * a JWT's `sub` claim. Bounded (MAX_ID_CHARS) so that ids are safe in logs, maps and messages.
 */

const USER_ID_CHARS = /^[A-Za-z0-9._~-]+$/;

/** Whether `value` is a user id of at most `maxChars` characters. */
export function isUserId(value: string, maxChars: number): boolean {
  return value.length >= 1 && value.length <= maxChars && USER_ID_CHARS.test(value);
}

/** The rule in words, for error messages. */
export function userIdRule(maxChars: number): string {
  return `1-${maxChars} letters, digits, '.', '_', '~' or '-'`;
}
