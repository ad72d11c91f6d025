/**
 * Headless Chromium for browser tests (Debian's `chromium`, driven by playwright-core). Without
 * Chromium, browser tests are skipped — unless CI_REQUIRE_BROWSER=1 (CI), where they fail.
 */
import type { BrowserContext } from "playwright-core";

/** Where Chromium is (`CHROMIUM_PATH` overrides). */
export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
/** True when CI requires the browser tests to run. */
export const REQUIRED = Deno.env.get("CI_REQUIRE_BROWSER") === "1";

async function chromiumInstalled(): Promise<boolean> {
  try {
    return (await Deno.stat(CHROMIUM)).isFile;
  } catch {
    return false;
  }
}

/** True when Chromium is installed. */
export const installed: boolean = await chromiumInstalled();

/** The `Deno.test` fields of a browser test: skipped without Chromium unless required. */
export function browserTest(name: string): { name: string; ignore: boolean } {
  return {
    name: `${name}${installed || REQUIRED ? "" : " (skipped: chromium is not installed)"}`,
    ignore: !installed && !REQUIRED,
  };
}

/** Fails a required browser test when Chromium is missing. */
export function requireChromium(): void {
  if (!installed) {
    throw new Error(`Cannot run the browser test: ${CHROMIUM} is missing (CI_REQUIRE_BROWSER=1)`);
  }
}

/**
 * Loads playwright-core. At import it probes for WSL with `existsSync("/proc/sys/fs/binfmt_misc/
 * WSLInterop")`, which Deno refuses without --allow-all; its own test switch skips the probe
 * (the answer only matters for opening URLs on Windows hosts, never for launching Chromium).
 */
async function loadPlaywright(): Promise<typeof import("playwright-core")> {
  const had = Deno.env.get("__IS_WSL_TEST__");
  Deno.env.set("__IS_WSL_TEST__", "1");
  try {
    return await import("playwright-core");
  } finally {
    if (had === undefined) Deno.env.delete("__IS_WSL_TEST__");
  }
}

/** A headless Chromium context; disposing it closes the browser and removes its profile. */
export async function launchChromium(
  extraArgs: string[] = [],
): Promise<{ context: BrowserContext } & AsyncDisposable> {
  const { chromium } = await loadPlaywright();
  const userDataDir = await Deno.makeTempDir({ prefix: "voice-chromium-" });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
  return {
    context,
    async [Symbol.asyncDispose]() {
      await context.close();
      await Deno.remove(userDataDir, { recursive: true });
    },
  };
}
