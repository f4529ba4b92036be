# tend, a container init, as a FROM scratch image holding one static binary.
#
#   docker build -t tend .
#
# Use the image as a base, or copy the binary into yours:
#
#   COPY --from=tend /usr/bin/tend /usr/bin/tend
#   ENTRYPOINT ["/usr/bin/tend", "--"]
#   CMD ["your-server", "--flag"]
#
# No registry to pull golang from? Build the binary on the host and use
# examples/prebuilt/Dockerfile. docs/docker.md has both, and --init-path.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so this layer stays cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static: scratch has no libc. -trimpath and -s -w: no host paths, no
# symbol tables, a smaller binary.
# VERSION is what `tend version` prints: docker build --build-arg VERSION=v1.2.3
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.buildVersion=${VERSION}" -o /out/tend .

FROM scratch
COPY --from=build /out/tend /usr/bin/tend
# tend's own flags go before "--"; CMD, or the arguments to `docker run
# IMAGE`, become the program tend runs.
ENTRYPOINT ["/usr/bin/tend", "--"]
