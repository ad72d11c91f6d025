/**
 * The voice page in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * a fake microphone plays recorded speech, the page streams it through its AudioWorklet, the
 * local engine echoes it, and the page shows the reply's transcript and plays its audio. A text
 * message follows. The test saves a screenshot of the page.
 *
 * Without Chromium the test is skipped, unless CI_REQUIRE_BROWSER=1 (CI), where it fails.
 */
import assert from "node:assert/strict";
import { startTestApp } from "../helpers.ts";

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const REQUIRED = Deno.env.get("CI_REQUIRE_BROWSER") === "1";
const MIC_WAV = new URL("../fixtures/web/mic_48k.wav", import.meta.url).pathname;
const SCREENSHOT = new URL("../fixtures/web/screenshot.png", import.meta.url).pathname;

async function chromiumInstalled(): Promise<boolean> {
  try {
    return (await Deno.stat(CHROMIUM)).isFile;
  } catch {
    return false;
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

const installed = await chromiumInstalled();
if (!installed) {
  console.warn(
    REQUIRED
      ? `Chromium is required (CI_REQUIRE_BROWSER=1) but ${CHROMIUM} is missing`
      : `Skipping the browser test: Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`,
  );
}

Deno.test({
  name: `voice page talks to the model in headless Chromium${
    installed ? "" : REQUIRED ? "" : " (skipped: chromium is not installed)"
  }`,
  ignore: !installed && !REQUIRED,
  async fn() {
    if (!installed) {
      throw new Error(`Cannot run the browser test: ${CHROMIUM} is missing (CI_REQUIRE_BROWSER=1)`);
    }
    const { chromium } = await loadPlaywright();
    await using app = await startTestApp();
    const userDataDir = await Deno.makeTempDir({ prefix: "voice-page-chromium-" });
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
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        `--use-file-for-fake-audio-capture=${MIC_WAV}%noloop`,
        "--autoplay-policy=no-user-gesture-required",
      ],
    });
    try {
      const page = context.pages()[0] ?? await context.newPage();
      const problems: string[] = [];
      page.on("pageerror", (error) => problems.push(String(error)));
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(message.text());
      });

      await page.goto(app.url);
      await page.getByTestId("connect").click();
      await page.locator('[data-testid="status"][data-status="connected"]').waitFor();

      // The spoken turn: the engine's echo comes back with its transcript and its audio.
      const transcript = page.getByTestId("transcript");
      await transcript.getByText(/I heard [\d.]+ seconds of speech/).waitFor({ timeout: 30_000 });
      await page.locator('[data-testid="audio-received"]:not([data-chunks="0"])').waitFor();
      await page.locator('[data-testid="phase"][data-phase="listening"]').waitFor({
        timeout: 30_000,
      });

      // A typed message.
      await page.getByTestId("text-input").fill("What's the weather like on Mars?");
      await page.getByRole("button", { name: "Send" }).click();
      await transcript.getByText("You said: “What's the weather like on Mars?”").waitFor({
        timeout: 30_000,
      });
      await page.locator('[data-testid="phase"][data-phase="listening"]').waitFor({
        timeout: 30_000,
      });

      const chunks = Number(await page.getByTestId("audio-received").getAttribute("data-chunks"));
      assert.ok(chunks > 0, "the page received reply audio");
      const banner = page.getByTestId("error");
      assert.equal(await banner.count(), 0, `error banner: ${await banner.allTextContents()}`);
      const sessionId = await page.getByTestId("session-id").textContent();
      assert.match(sessionId ?? "", /^sess_/);
      assert.deepEqual(problems, []);

      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      await page.getByTestId("disconnect").click();
      await page.locator('[data-testid="status"][data-status="closed"]').waitFor();
    } finally {
      await context.close();
      await Deno.remove(userDataDir, { recursive: true });
    }
  },
});
