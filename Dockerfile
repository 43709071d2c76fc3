# Builds the gcupsert binary (worker, emulator and demo in one command).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gcupsert ./cmd/gcupsert

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gcupsert /usr/local/bin/gcupsert
COPY examples/schemas /etc/gcupsert/schemas
ENTRYPOINT ["/usr/local/bin/gcupsert"]
