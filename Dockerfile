# syntax=docker/dockerfile:1
# vestauth authority. Build: docker build -t vestauth-authority .
# Run:  docker run -p 3000:3000 -e PUBLIC_URL=https://auth.example.com \
#         [-e DATABASE_URL=postgres://user:pass@db:5432/vestauth] vestauth-authority
# Without DATABASE_URL the embedded PGlite database lives in the /data volume:
# one container per volume (PGlite has no lock between processes).

# Node 20.19+ is required: the CommonJS build require()s the ESM-only NestJS 12 packages.
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts are not run: nothing in the lockfile needs them to build (SWC ships prebuilt binaries).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
# The version in GET / is read from package.json at run time, next to dist/.
COPY --from=build /app/dist ./dist
# Code stays owned by root (read-only for the service); only the data directory is writable.
# 0700: PGlite has no authentication, the file modes are its access control (the service tightens it at start anyway).
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
VOLUME ["/data"]
USER node
EXPOSE 3000
# Readiness includes the database. No curl in slim images: Node's fetch does it.
# The start period covers PGlite's first initdb on an empty volume (4-9 s, more on a small host).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself; the service drains requests,
# closes the database and exits 0. `npm start` is not used: its prestart runs
# the Nest CLI build, which is not installed here.
# The same heap bound as `npm start`: V8 otherwise lets garbage pile up to
# hundreds of MB before collecting (see README, performance).
CMD ["node", "--max-old-space-size=256", "dist/main.js"]
