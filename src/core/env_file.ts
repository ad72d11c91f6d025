/**
 * `.env` support without `--env-file` (which warns when the file is absent): the file is parsed
 * with Node's built-in `parseEnv` and fills only variables the environment does not set.
 */
import { parseEnv } from "node:util";

/** The environment merged with `path` (when it exists); real environment variables win. */
export function withEnvFile(
  env: Record<string, string>,
  path: string,
): { env: Record<string, string>; loaded: boolean } {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { env, loaded: false };
    throw error;
  }
  const fromFile = parseEnv(text);
  const merged: Record<string, string> = { ...env };
  for (const [key, value] of Object.entries(fromFile)) {
    if (merged[key] === undefined && typeof value === "string") merged[key] = value;
  }
  return { env: merged, loaded: true };
}
