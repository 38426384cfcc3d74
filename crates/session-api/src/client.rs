//! Who is calling: the client's address as the adapter saw it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};

/// The address of the client of a request, in the request's extensions: the TCP peer for the
/// server, API Gateway's `sourceIp` (or the load balancer's view) for the Lambda adapter. An
/// adapter that knows better inserts it before the router; otherwise the router derives it
/// from the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// Whether the client is on this machine (127.0.0.0/8 or ::1, or an IPv4-mapped loopback).
    pub fn is_loopback(&self) -> bool {
        match self.0 {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        }
    }
}

/// The client of `request`: the one an adapter recorded, else the connection's peer.
pub fn resolve(request: &Request) -> Option<ClientAddr> {
    if let Some(client) = request.extensions().get::<ClientAddr>() {
        return Some(*client);
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| ClientAddr(peer.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_forms() {
        for loopback in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(
                ClientAddr(loopback.parse().expect("ip")).is_loopback(),
                "{loopback}"
            );
        }
        for remote in ["10.0.0.1", "192.168.1.1", "::ffff:10.0.0.1", "2001:db8::1"] {
            assert!(
                !ClientAddr(remote.parse().expect("ip")).is_loopback(),
                "{remote}"
            );
        }
    }
}
