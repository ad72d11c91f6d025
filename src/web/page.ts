/**
 * The HTML of the browser voice page, with its CSS inline (no CDN, no external fonts). The
 * React bundle mounts `RealtimeVoice` into `#root`.
 */

const FAVICON = "data:image/svg+xml," + encodeURIComponent(
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="9" fill="#5b5bf7"/><g fill="#fff"><rect x="8" y="12" width="3" height="8" rx="1.5"/><rect x="14.5" y="8" width="3" height="16" rx="1.5"/><rect x="21" y="11" width="3" height="10" rx="1.5"/></g></svg>`,
);

const CSS = `
:root {
  color-scheme: light dark;
  --bg: #f4f5fb;
  --bg-2: #eceefe;
  --card: #ffffff;
  --ink: #14162b;
  --muted: #5d6280;
  --faint: #9499b7;
  --line: #e4e6f2;
  --accent: #5b5bf7;
  --accent-2: #8b5cf6;
  --accent-soft: #ecebff;
  --ok: #10b981;
  --warn: #f59e0b;
  --bad: #ef4444;
  --user: #5b5bf7;
  --shadow: 0 1px 2px rgba(20, 22, 43, .04), 0 8px 24px rgba(20, 22, 43, .06);
  --radius: 18px;
  --font: ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d0f1c; --bg-2: #141733; --card: #151829; --ink: #eef0ff; --muted: #a5aacb;
    --faint: #6d7296; --line: #262a45; --accent-soft: #23244a;
    --shadow: 0 1px 2px rgba(0,0,0,.3), 0 10px 30px rgba(0,0,0,.35);
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body {
  margin: 0; min-height: 100vh; font-family: var(--font); color: var(--ink); font-size: 15px; line-height: 1.5;
  background: radial-gradient(1200px 600px at 10% -10%, var(--bg-2), transparent 60%),
              radial-gradient(900px 500px at 110% 10%, var(--accent-soft), transparent 60%), var(--bg);
  background-repeat: no-repeat;
  -webkit-font-smoothing: antialiased;
}
button, input, select { font: inherit; color: inherit; }
code { font-family: var(--mono); font-size: .85em; }
.app { max-width: 1180px; margin: 0 auto; padding: 24px 24px 32px; }
.topbar { display: flex; align-items: center; justify-content: space-between; margin-bottom: 20px; }
.brand { display: flex; align-items: center; gap: 14px; }
.brand h1 { font-size: 19px; margin: 0; letter-spacing: -.01em; }
.brand p { margin: 0; color: var(--muted); font-size: 13px; }
.logo {
  width: 42px; height: 42px; border-radius: 13px; display: inline-flex; align-items: center;
  justify-content: center; gap: 3px; background: linear-gradient(135deg, var(--accent), var(--accent-2));
  box-shadow: 0 6px 18px rgba(91, 91, 247, .35);
}
.logo span { width: 4px; border-radius: 2px; background: #fff; }
.logo span:nth-child(1) { height: 12px; } .logo span:nth-child(2) { height: 22px; } .logo span:nth-child(3) { height: 15px; }
.pill {
  display: inline-flex; align-items: center; gap: 8px; padding: 6px 12px; border-radius: 999px;
  background: var(--card); border: 1px solid var(--line); font-size: 13px; font-weight: 600; color: var(--muted);
  box-shadow: var(--shadow);
}
.pill .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--faint); }
.pill-connected { color: var(--ok); } .pill-connected .dot { background: var(--ok); box-shadow: 0 0 0 4px rgba(16,185,129,.18); }
.pill-connecting { color: var(--warn); } .pill-connecting .dot { background: var(--warn); animation: blink 1s infinite; }
.pill-error { color: var(--bad); } .pill-error .dot { background: var(--bad); }
@keyframes blink { 50% { opacity: .3; } }
.banner {
  display: flex; justify-content: space-between; align-items: center; gap: 16px; margin-bottom: 16px;
  padding: 12px 16px; border-radius: 14px; background: rgba(239, 68, 68, .08);
  border: 1px solid rgba(239, 68, 68, .3); color: var(--bad); font-weight: 500;
}
.layout {
  display: grid; gap: 20px;
  grid-template-columns: minmax(300px, 380px) 1fr;
  grid-template-areas: "stage conversation" "events events";
}
.card { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); box-shadow: var(--shadow); }
.stage { grid-area: stage; padding: 28px 24px 22px; display: flex; flex-direction: column; align-items: center; }
.conversation { grid-area: conversation; display: flex; flex-direction: column; min-height: 540px; max-height: 640px; }
.events { grid-area: events; padding: 6px 20px; }
.card-head { display: flex; justify-content: space-between; align-items: center; padding: 18px 22px 10px; }
h2 { font-size: 15px; margin: 0; letter-spacing: -.005em; }
.orb { position: relative; width: 188px; height: 188px; margin: 8px 0 18px; display: grid; place-items: center; }
.orb-ring {
  position: absolute; inset: 10px; border-radius: 50%; transition: transform .12s ease-out, opacity .3s;
  background: radial-gradient(circle, rgba(91, 91, 247, .22), rgba(139, 92, 246, .06) 60%, transparent 72%);
}
.orb-core {
  position: relative; width: 124px; height: 124px; border-radius: 50%; display: flex; align-items: center;
  justify-content: center; gap: 6px; background: linear-gradient(145deg, #6d6dfa, #8b5cf6 55%, #a78bfa);
  box-shadow: inset 0 -10px 24px rgba(0,0,0,.18), 0 14px 34px rgba(91, 91, 247, .35);
  transition: filter .3s, transform .3s;
}
.orb-idle .orb-core { filter: grayscale(.65) brightness(1.05); }
.bar { width: 6px; height: 14px; border-radius: 3px; background: rgba(255,255,255,.92); transition: height .2s; }
.orb-speaking .bar { animation: talk .9s ease-in-out infinite; }
.orb-speaking .bar:nth-child(2) { animation-delay: .15s; } .orb-speaking .bar:nth-child(3) { animation-delay: .3s; }
.orb-speaking .bar:nth-child(4) { animation-delay: .45s; } .orb-speaking .bar:nth-child(5) { animation-delay: .6s; }
.orb-listening .orb-core { transform: scale(1.04); }
.orb-listening .bar { height: 26px; } .orb-listening .bar:nth-child(odd) { height: 16px; }
.orb-processing .orb-core { animation: pulse 1.4s ease-in-out infinite; }
.orb-connected .bar { height: 8px; }
@keyframes talk { 0%, 100% { height: 10px; } 50% { height: 40px; } }
@keyframes pulse { 50% { transform: scale(.95); filter: brightness(1.12); } }
.phase { margin: 0 0 18px; color: var(--muted); font-weight: 500; text-align: center; min-height: 1.5em; }
.controls { width: 100%; display: grid; grid-template-columns: 1fr 1fr; gap: 10px; margin-bottom: 22px; }
.controls > :first-child { grid-column: 1 / -1; padding: 12px 18px; }
.btn {
  border: 1px solid transparent; border-radius: 12px; padding: 10px 18px; font-weight: 600; cursor: pointer;
  transition: background .15s, box-shadow .15s, transform .05s, opacity .15s;
}
.btn:active:not(:disabled) { transform: translateY(1px); }
.btn:disabled { opacity: .45; cursor: not-allowed; }
.btn-primary { background: var(--accent); color: #fff; box-shadow: 0 6px 16px rgba(91, 91, 247, .28); }
.btn-primary:hover:not(:disabled) { background: #4b4bea; }
.btn-danger { background: var(--bad); color: #fff; box-shadow: 0 6px 16px rgba(239, 68, 68, .25); }
.btn-ghost { background: transparent; border-color: var(--line); color: var(--ink); }
.btn-ghost:hover:not(:disabled), .btn-ghost.active { background: var(--accent-soft); border-color: transparent; }
.link { background: none; border: 0; padding: 0; color: var(--accent); font-weight: 600; cursor: pointer; font-size: 13px; }
.settings { width: 100%; display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.settings label { display: flex; flex-direction: column; gap: 6px; font-size: 12px; font-weight: 600; color: var(--muted); }
.settings .wide { grid-column: 1 / -1; }
.settings select, .settings input, .composer input {
  width: 100%; padding: 10px 12px; border-radius: 11px; border: 1px solid var(--line); background: var(--bg);
  color: var(--ink); font-size: 14px; font-weight: 500; outline: none; transition: border-color .15s, box-shadow .15s;
}
.settings select:focus, .settings input:focus, .composer input:focus { border-color: var(--accent); box-shadow: 0 0 0 4px var(--accent-soft); }
.meta { width: 100%; margin: 20px 0 0; padding-top: 16px; border-top: 1px solid var(--line); display: grid; gap: 8px; }
.meta div { display: flex; justify-content: space-between; gap: 12px; font-size: 13px; }
.meta dt { color: var(--muted); } .meta dd { margin: 0; font-family: var(--mono); font-size: 12px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; max-width: 65%; }
.transcript { list-style: none; margin: 0; padding: 8px 22px 18px; overflow-y: auto; flex: 1; display: flex; flex-direction: column; gap: 12px; }
.transcript .empty { margin: auto; max-width: 320px; text-align: center; color: var(--faint); padding: 40px 0; }
.transcript .anchor { height: 1px; }
.bubble { max-width: 78%; padding: 10px 14px 11px; border-radius: 16px; display: flex; flex-direction: column; gap: 2px; animation: rise .18s ease-out; }
.bubble .who { font-size: 11px; font-weight: 700; letter-spacing: .04em; text-transform: uppercase; opacity: .7; }
.bubble-user { align-self: flex-end; background: var(--user); color: #fff; border-bottom-right-radius: 6px; }
.bubble-assistant { align-self: flex-start; background: var(--accent-soft); border-bottom-left-radius: 6px; }
.bubble.streaming .text::after { content: ""; display: inline-block; width: 7px; height: 7px; margin-left: 6px; border-radius: 50%; background: currentColor; opacity: .5; animation: blink 1s infinite; }
.bubble.interrupted { opacity: .75; }
.bubble .tag { align-self: flex-start; margin-top: 4px; font-size: 11px; font-weight: 600; padding: 1px 8px; border-radius: 999px; background: rgba(245, 158, 11, .16); color: #b45309; }
@keyframes rise { from { transform: translateY(4px); opacity: 0; } }
.composer { display: flex; gap: 10px; padding: 14px 18px 18px; border-top: 1px solid var(--line); }
.events details > summary { list-style: none; display: flex; align-items: center; gap: 10px; cursor: pointer; padding: 14px 2px; }
.events details > summary::-webkit-details-marker { display: none; }
.events summary::before { content: "▸"; color: var(--faint); transition: transform .15s; }
.events details[open] summary::before { transform: rotate(90deg); }
.count { font-size: 12px; font-weight: 700; color: var(--muted); background: var(--bg); border: 1px solid var(--line); padding: 0 8px; border-radius: 999px; }
.log { list-style: none; margin: 0 0 14px; padding: 0; max-height: 220px; overflow-y: auto; font-size: 12.5px; border-top: 1px solid var(--line); }
.log li { display: grid; grid-template-columns: 70px 18px minmax(150px, 220px) 1fr; gap: 8px; padding: 6px 2px; border-bottom: 1px solid var(--line); align-items: baseline; }
.log time { color: var(--faint); font-family: var(--mono); font-size: 11.5px; }
.log .arrow { font-weight: 700; } .log-in .arrow { color: var(--ok); } .log-out .arrow { color: var(--accent); } .log-note .arrow { color: var(--faint); }
.log code { color: var(--ink); font-weight: 600; }
.log .detail { color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.foot { margin-top: 18px; text-align: center; color: var(--faint); font-size: 12.5px; }
@media (max-width: 860px) {
  .layout { grid-template-columns: 1fr; grid-template-areas: "stage" "conversation" "events"; }
  .conversation { min-height: 420px; }
  .log li { grid-template-columns: 64px 14px 1fr; } .log .detail { grid-column: 1 / -1; }
}
`;

/** The page's HTML. */
export function pageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="Talk with the voice assistant in your browser">
<title>Voice Gateway · Realtime voice</title>
<link rel="icon" href="${FAVICON}">
<style>${CSS}</style>
</head>
<body>
<div id="root"></div>
<noscript><p style="padding:24px">This page needs JavaScript to talk to the voice assistant.</p></noscript>
<script type="module" src="/assets/app.js"></script>
</body>
</html>
`;
}
