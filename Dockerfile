# Portcullis in a container: multi-stage (build with the toolchain, run without it),
# non-root, HEALTHCHECK on /healthz. Reference: docs/operations-packaging.md.
#   docker build -t portcullis .
#   docker run -d -p 9443:9443 -v portcullis-data:/var/lib/portcullis portcullis
# The first start prints the administrator's one-time password: docker logs <container>.

FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles from source; the PAM helper needs libpam's headers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libpam0g-dev libcrypt-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/build-pam-helper.sh scripts/build-web.mjs scripts/build-bundle.mjs scripts/
COPY src/adapters/identity/pam/helper.c src/adapters/identity/pam/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY pam ./pam
# The same build as `npm run build` (the code, the console's browser assets, the command line's bundle), and the PAM helper, required here.
RUN npm run build:code \
 && sh scripts/build-pam-helper.sh \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# libpam for the PAM helper at run time; nothing else beyond the base image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpam0g \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/portcullis \
 && chown node:node /var/lib/portcullis \
 && chmod 0700 /var/lib/portcullis
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/pam ./pam
COPY ops/docker/healthcheck.mjs ./ops/docker/healthcheck.mjs
ENV NODE_ENV=production \
    PORTCULLIS_HOST=0.0.0.0 \
    PORTCULLIS_PORT=9443 \
    PORTCULLIS_DATA_DIR=/var/lib/portcullis
# The image's unprivileged user (uid 1000); port 9443 needs no capability.
USER node
VOLUME ["/var/lib/portcullis"]
EXPOSE 9443
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "/app/ops/docker/healthcheck.mjs"]
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["serve"]
