# The beckon image: the beckon command (topics, journeys, dev), the
# journey engine and the API, static binaries.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/beckon ./services/beckon && \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/engine ./services/engine && \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/api ./services/api

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/beckon /out/engine /out/api /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/beckon"]
