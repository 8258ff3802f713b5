# Builds the operator's images: the manager (default), the record gateway
# (--target gateway) and the connector (--target connector). Both are static binaries on distroless, running as the
# non-root user 65532.
#   docker build -t ghcr.io/shcr-io/shcr-operator:v0.1.0 .
#   docker build --target gateway -t ghcr.io/shcr-io/shcr-gateway:v0.1.0 .
#   docker build --target connector -t ghcr.io/shcr-io/shcr-connector:v0.1.0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
ARG TARGETOS=linux TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w" -o /out/manager ./cmd/manager && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w" -o /out/gateway ./cmd/gateway && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w" -o /out/connector ./cmd/connector

FROM gcr.io/distroless/static:nonroot AS connector
COPY --from=build /out/connector /connector
USER 65532:65532
ENTRYPOINT ["/connector"]

FROM gcr.io/distroless/static:nonroot AS gateway
COPY --from=build /out/gateway /gateway
USER 65532:65532
ENTRYPOINT ["/gateway"]

FROM gcr.io/distroless/static:nonroot AS manager
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
