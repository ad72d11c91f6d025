/** What build this is: the package version and, where it can be learned, the git commit. */
import denoJson from "../../deno.json" with { type: "json" };

/** The gateway's version (deno.json). */
export const VERSION: string = denoJson.version;

/**
 * The commit: `GIT_COMMIT` (set it in the image build), else read from `.git` beside the source
 * (a checkout), else `"unknown"`. Read once; never throws.
 */
export function commit(env: (name: string) => string | undefined): string {
  const fromEnv = env("GIT_COMMIT");
  if (fromEnv) return fromEnv.slice(0, 40);
  try {
    const git = new URL("../../.git/", import.meta.url);
    const head = Deno.readTextFileSync(new URL("HEAD", git)).trim();
    const ref = head.match(/^ref: (.+)$/)?.[1];
    const sha = ref ? Deno.readTextFileSync(new URL(ref, git)).trim() : head;
    return /^[0-9a-f]{40}$/.test(sha) ? sha : "unknown";
  } catch {
    return "unknown";
  }
}
