# syntax=docker/dockerfile:1

# ---- build -----------------------------------------------------------------
# dingoidc is pure Go (modernc.org/sqlite, pgx): CGO_ENABLED=0 gives a static
# binary that runs on distroless/static.
FROM golang:1.26-bookworm AS build
WORKDIR /src
# go.mod names an exact Go release; GOTOOLCHAIN=auto lets an older cached
# golang:1.26 image fetch it instead of failing the build.
ENV CGO_ENABLED=0 GOTOOLCHAIN=auto
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# -tags timetzdata embeds the IANA time zone database in the binary:
# Zhezhengding request signatures carry Asia/Shanghai time, and the binary then
# never depends on the runtime image having /usr/share/zoneinfo.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -tags timetzdata -ldflags "-s -w" -o /out/dingoidc ./cmd/dingoidc

# ---- runtime ---------------------------------------------------------------
# distroless/static: CA certificates, /etc/passwd with a nonroot user, no shell
# and no package manager. Nothing runs in it but dingoidc.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dingoidc /dingoidc
# 65532 is distroless's "nonroot"; numeric so Kubernetes runAsNonRoot can check it.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/dingoidc"]
CMD ["serve", "--config", "/etc/dingoidc/config.yaml"]
