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
import {
  browserTest,
  CHROMIUM,
  installed,
  launchChromium,
  requireChromium,
  REQUIRED,
} from "../chromium.ts";

const MIC_WAV = new URL("../fixtures/web/mic_48k.wav", import.meta.url).pathname;
const SCREENSHOT = new URL("../fixtures/web/screenshot.png", import.meta.url).pathname;

if (!installed) {
  console.warn(
    REQUIRED
      ? `Chromium is required (CI_REQUIRE_BROWSER=1) but ${CHROMIUM} is missing`
      : `Skipping the browser test: Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`,
  );
}

Deno.test({
  ...browserTest("voice page talks to the model in headless Chromium"),
  async fn() {
    requireChromium();
    await using app = await startTestApp();
    await using browser = await launchChromium([
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${MIC_WAV}%noloop`,
      "--autoplay-policy=no-user-gesture-required",
    ]);
    const { context } = browser;
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
    await page.locator('[data-testid="phase"][data-phase="CONNECTED"]').waitFor({
      timeout: 30_000,
    });

    // A typed message.
    await page.getByTestId("text-input").fill("What's the weather like on Mars?");
    await page.getByRole("button", { name: "Send" }).click();
    await transcript.getByText("You said: “What's the weather like on Mars?”").waitFor({
      timeout: 30_000,
    });
    await page.locator('[data-testid="phase"][data-phase="CONNECTED"]').waitFor({
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
  },
});
