/** Entry point of the browser voice page: mounts {@linkcode RealtimeVoice} into `#root`. */
// @ts-types="@types/react-dom/client"
import { createRoot } from "react-dom/client";
import { RealtimeVoice } from "./realtime_voice.tsx";

const root = document.getElementById("root");
if (root) createRoot(root).render(<RealtimeVoice />);
