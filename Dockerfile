# The hub, for people with Docker (docker-compose.yml). Not used by the tests.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin hub

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 hub
COPY --from=build /src/target/release/hub /usr/local/bin/hub
RUN mkdir /keys && chown hub /keys
USER hub
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/hub"]
CMD ["serve", "--migrate"]
