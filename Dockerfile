# The beckon image: every service is a verb of one static binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/beckon ./services/beckon

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/beckon /usr/local/bin/beckon
ENTRYPOINT ["/usr/local/bin/beckon"]
