# Voice gateway: AudioCodes VoiceAI Connect / app users <-> OpenAI Realtime (GA), Deno 2.9.6.
FROM denoland/deno:2.9.6

WORKDIR /app
ARG GIT_COMMIT=unknown
ENV DENO_DIR=/deno-dir \
    DENO_NO_UPDATE_CHECK=1 \
    GIT_COMMIT=${GIT_COMMIT} \
    PORT=8000 \
    HOST=0.0.0.0

# Only the runtime's dependencies (deno.json: no test, bench or bundle packages; those are in
# deno.dev.json), resolved strictly from their own committed lockfile.
COPY deno.json deno.lock ./
COPY src/ ./src/
RUN deno cache --frozen src/main.ts \
    && chown -R deno:deno /deno-dir

USER deno
EXPOSE 8000

# The health check must not start a Deno process every 30 s: bash (the image is Debian-based)
# opens a TCP connection itself and reads the status line of GET /health. Orchestrators should
# probe GET /ready (503 while draining or when the upstream is unreachable) and GET /health.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s CMD ["/bin/bash", "-c", \
  "exec 3<>/dev/tcp/127.0.0.1/${PORT:-8000} && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]

# PORT and every other setting come from the environment (see .env.example). SIGTERM drains.
CMD ["run", "--frozen", "--cached-only", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"]
