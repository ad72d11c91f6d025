/**
 * The voice page's microphone AudioWorklet module, bundled on its own to `dist/pcm-worklet.js`
 * and loaded with `audioWorklet.addModule`: the SDK's `pcm-capture` processor.
 */
import { installPcmCapture } from "../../client/pcm_worklet.ts";

installPcmCapture();
