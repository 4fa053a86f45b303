# The beckon image: the beckon command (topics, journeys, dev) and the
# journey engine, static binaries.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/beckon ./services/beckon && \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/engine ./services/engine

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/beckon /out/engine /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/beckon"]
