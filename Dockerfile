# Image for ledger-api and the projector (same build, different command).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps apps
COPY libs libs
COPY projections projections
COPY bench bench
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
USER node
EXPOSE 3000
# A bound on the old generation also keeps V8 from letting it grow to 4x what is live before
# collecting (its default on a host of 16 GB or more): README, "Memory".
CMD ["node", "--max-old-space-size=1024", "dist/apps/ledger-api/src/main.js"]
