# syntax=docker/dockerfile:1
# NodeWarden: one image for the controller and the agent (deploy/helm/nodewarden).
#   docker build -t nodewarden/nodewarden:0.1.0 .
# Node 24 is the newest LTS line the project is tested on (20, 22, 24).
ARG NODE_VERSION=24

# --- build: compile TypeScript and better-sqlite3, then keep runtime deps only
FROM node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# .npmrc points node-gyp at Debian's Node headers (nodedir=/usr); this image has
# its own Node under /usr/local.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The dashboard bundle (vite, web/vite.config.ts → dist/web/).
COPY web ./web
RUN npm run build && npm prune --omit=dev

# --- runtime: the probes' tools (ping, arping, ip), no compiler
FROM node:${NODE_VERSION}-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iputils-ping iputils-arping iproute2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
ENV NODE_ENV=production
# The controller runs as the image's non-root user `node` (uid 1000; ping uses
# ICMP datagram sockets). The agent needs raw sockets for arping and
# /dev/kmsg: the chart runs it as root with NET_RAW (privileged for kmsg).
USER node
EXPOSE 9464 9465
# /healthz of whichever role PID 1 runs: the port of its --listen, else the
# controller's 9464 or the agent's 9465; NODEWARDEN_HEALTH_PORT overrides.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const a=require('fs').readFileSync('/proc/1/cmdline','utf8').split('\\0');const i=a.indexOf('--listen');const p=process.env.NODEWARDEN_HEALTH_PORT||(i>0?a[i+1].split(':').pop():a.includes('agent')?9465:9464);fetch('http://127.0.0.1:'+p+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/nodewarden.js"]
CMD ["controller"]
