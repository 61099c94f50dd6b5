# syntax=docker/dockerfile:1
#
# dingoidc's container image: a static binary on distroless/static, non-root.
#
# Every place the build fetches from is an argument, so that a closed network
# can name its own mirrors (README.md, "Container image"):
#   BUILDER_IMAGE  the Go toolchain image; its Go must be at least the
#                  release go.mod names (nothing is downloaded to make up
#                  for an older one: GOTOOLCHAIN=local)
#   BASE_IMAGE     the runtime image: anything with CA certificates and a
#                  non-root user 65532 (the time zone database is embedded)
#   GOPROXY        the Go module proxy, e.g. https://goproxy.cn,direct
#   GOSUMDB        the checksum database, e.g. sum.golang.google.cn, or off
#                  behind a proxy you trust (go.sum still pins every module)
#   VERSION        the version stamped into the binary (.git is not in the
#                  build context): --build-arg VERSION=$(git describe --tags --always --dirty)
ARG BUILDER_IMAGE=golang:1.26-bookworm
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot

# ---- build -----------------------------------------------------------------
FROM ${BUILDER_IMAGE} AS build
ARG GOPROXY=https://proxy.golang.org,direct
ARG GOSUMDB=sum.golang.org
ARG VERSION=(devel)
WORKDIR /src
# dingoidc is pure Go (modernc.org/sqlite, pgx): CGO_ENABLED=0 gives a static
# binary that runs on distroless/static.
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOPROXY=${GOPROXY} GOSUMDB=${GOSUMDB}
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# -tags timetzdata embeds the IANA time zone database in the binary:
# Zhezhengding request signatures carry Asia/Shanghai time, and the binary then
# never depends on the runtime image having /usr/share/zoneinfo.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -tags timetzdata \
      -ldflags "-s -w -X github.com/dingoidc/dingoidc/buildinfo.version=${VERSION}" \
      -o /out/dingoidc ./cmd/dingoidc && \
    mkdir -p /out/data

# ---- runtime ---------------------------------------------------------------
# distroless/static: CA certificates, /etc/passwd with a nonroot user, no shell
# and no package manager. Nothing runs in it but dingoidc.
FROM ${BASE_IMAGE}
COPY --from=build /out/dingoidc /dingoidc
# The data directory (SQLite file, the dev master key), owned by the user
# dingoidc runs as; mount a volume here to keep it.
COPY --from=build --chown=65532:65532 /out/data /var/lib/dingoidc
ENV DINGOIDC_DATA_DIR=/var/lib/dingoidc
# 65532 is distroless's "nonroot"; numeric so Kubernetes runAsNonRoot can check it.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/dingoidc"]
CMD ["serve", "--config", "/etc/dingoidc/config.yaml"]
