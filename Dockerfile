# Voice gateway: AudioCodes VoiceAI Connect / app users <-> OpenAI Realtime (GA), Deno 2.9.6.
FROM denoland/deno:2.9.6

WORKDIR /app
ENV DENO_DIR=/deno-dir \
    DENO_NO_UPDATE_CHECK=1 \
    PORT=8000 \
    HOST=0.0.0.0

# Dependencies first, resolved strictly from the committed lockfile.
COPY deno.json deno.lock ./
COPY src/ ./src/
RUN deno install --frozen --entrypoint src/main.ts \
    && chown -R deno:deno /deno-dir

USER deno
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s CMD ["deno", "eval", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('PORT') ?? 8000}/health`); Deno.exit(r.ok ? 0 : 1)"]

# PORT and every other setting come from the environment (see .env.example).
CMD ["run", "--frozen", "--cached-only", "--allow-net", "--allow-env", "--allow-read", "--allow-sys=hostname", "src/main.ts"]
