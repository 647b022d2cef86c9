# Multi-stage build: compile with the Rust toolchain, run as a non-root user on a
# slim Debian with no compiler. No OpenSSL: TLS is rustls with ring.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY schemas ./schemas
# Cargo reads every declared target when it loads the manifest, the bench included.
COPY benches ./benches
COPY fixtures ./fixtures
COPY fuzz ./fuzz
RUN cargo build --release --locked --bin refgate

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/refgate --create-home refgate
COPY --from=build /src/target/release/refgate /usr/local/bin/refgate
USER refgate
WORKDIR /var/lib/refgate
# Mount a configuration (and its certificates and key file) at /etc/refgate, or let the
# first start create a demo configuration in /var/lib/refgate/refgate-data.
ENV REFGATE__SERVER__LISTEN=0.0.0.0:8443
EXPOSE 8443
# Email: the demo's SMTP listener is on 127.0.0.1:2525; to take mail from outside the
# container set [smtp] listen = "0.0.0.0:2525" in the mounted configuration and publish
# it (an environment override alone would make an [smtp] section without its addresses).
ENTRYPOINT ["refgate"]
CMD ["serve"]
