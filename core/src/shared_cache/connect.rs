//! Making a connection to the shared cache's Redis, whatever its shape ([`Topology`]): one
//! server; the master the sentinels name, asked again at every new connection, so that a
//! failover is followed; or a cluster, whose connection follows `MOVED` and `ASK` itself
//! (docs/protocol.md §11).

use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, RedisFuture, RedisResult, TlsCertificates,
    TlsMode, Value,
};

use super::address::{Address, Auth, Node, Sentinels, Topology};

/// How certless reaches its Redis; made once per credential, used for every new connection.
pub(super) enum Connector {
    Single(Client),
    /// The sentinels are asked at every new connection (see [`Connector::connect`]).
    Sentinel {
        sentinels: Sentinels,
        ca_pem: Option<Vec<u8>>,
    },
    Cluster(redis::cluster::ClusterClient),
}

/// A connection to a single server or a sentinel's master, or to a whole cluster. Cheap to
/// clone: every clone shares one multiplexed connection (per node, for a cluster).
#[derive(Clone)]
pub(crate) enum Connection {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

/// The timeouts every connection is made with.
#[derive(Clone, Copy)]
pub(super) struct Timeouts {
    pub(super) connect: Duration,
    pub(super) command: Duration,
}

impl Connector {
    pub(super) fn new(address: &Address, ca_pem: Option<&[u8]>) -> RedisResult<Self> {
        let certificates = || TlsCertificates {
            client_tls: None,
            root_cert: ca_pem.map(<[u8]>::to_vec),
        };
        Ok(match &address.topology {
            Topology::Single { url, .. } => match ca_pem {
                Some(_) => Connector::Single(Client::build_with_tls(url.expose(), certificates())?),
                None => Connector::Single(Client::open(url.expose())?),
            },
            Topology::Sentinel(sentinels) => {
                // Built once now only to check it can be (a CA that does not parse).
                sentinel_client(sentinels, ca_pem)?;
                Connector::Sentinel {
                    sentinels: sentinels.clone(),
                    ca_pem: ca_pem.map(<[u8]>::to_vec),
                }
            }
            Topology::Cluster { nodes, tls, auth } => {
                let infos = nodes
                    .iter()
                    .map(|n| node_info(n, *tls, auth))
                    .collect::<RedisResult<Vec<_>>>()?;
                let mut builder = redis::cluster::ClusterClientBuilder::new(infos)
                    // A node that is gone is retried a few times, not the default 16: a miss
                    // now is better than a wait (COMMAND_TIMEOUT bounds it anyway).
                    .retries(2);
                if *tls {
                    builder = builder.tls(TlsMode::Secure);
                    if ca_pem.is_some() {
                        builder = builder.certs(certificates());
                    }
                }
                Connector::Cluster(builder.build()?)
            }
        })
    }

    /// A new connection, and in words where it went when that is not the address itself (the
    /// master the sentinels named).
    pub(super) async fn connect(&self, timeouts: Timeouts) -> RedisResult<(Connection, String)> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.command));
        match self {
            Connector::Single(client) => {
                let c = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                Ok((Connection::Single(c), String::new()))
            }
            Connector::Sentinel { sentinels, ca_pem } => {
                // A new sentinel client each time: it asks the sentinels for the master now (after
                // a failover, the new one), and keeps no connection across a fork.
                let mut sentinel = sentinel_client(sentinels, ca_pem.as_deref())?;
                let client = sentinel.async_get_client().await?;
                let at = match client.get_connection_info().addr() {
                    ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                        Node {
                            host: host.clone(),
                            port: *port,
                        }
                        .to_string()
                    }
                    _ => "an address that is not TCP".to_string(),
                };
                let c = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                Ok((
                    Connection::Single(c),
                    format!(
                        "master '{}' at {at}, as the sentinels say",
                        sentinels.master
                    ),
                ))
            }
            Connector::Cluster(client) => {
                let config = redis::cluster::ClusterConfig::new()
                    .set_connection_timeout(timeouts.connect)
                    .set_response_timeout(timeouts.command);
                let c = client.get_async_connection_with_config(config).await?;
                Ok((Connection::Cluster(c), String::new()))
            }
        }
    }
}

/// A client that asks `s.nodes` for the master, authenticating to each side with its own
/// credentials.
fn sentinel_client(s: &Sentinels, ca_pem: Option<&[u8]>) -> RedisResult<SentinelClient> {
    let addrs = s.nodes.iter().map(|n| node_addr(n, s.tls));
    let mut b = SentinelClientBuilder::new(addrs, &s.master, SentinelServerType::Master)?
        .set_client_to_redis_db(s.db);
    if s.tls {
        b = b
            .set_client_to_redis_tls_mode(TlsMode::Secure)
            .set_client_to_sentinel_tls_mode(TlsMode::Secure);
        if let Some(pem) = ca_pem {
            let certificates = || TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.to_vec()),
            };
            b = b
                .set_client_to_redis_certificates(certificates())
                .set_client_to_sentinel_certificates(certificates());
        }
    }
    if let Some(user) = &s.auth.username {
        b = b.set_client_to_redis_username(user);
    }
    if let Some(password) = &s.auth.password {
        b = b.set_client_to_redis_password(password.expose());
    }
    if let Some(user) = &s.sentinel_auth.username {
        b = b.set_client_to_sentinel_username(user);
    }
    if let Some(password) = &s.sentinel_auth.password {
        b = b.set_client_to_sentinel_password(password.expose());
    }
    b.build()
}

fn node_addr(node: &Node, tls: bool) -> ConnectionAddr {
    match tls {
        true => ConnectionAddr::TcpTls {
            host: node.host.clone(),
            port: node.port,
            insecure: false,
            tls_params: None,
        },
        false => ConnectionAddr::Tcp(node.host.clone(), node.port),
    }
}

fn node_info(node: &Node, tls: bool, auth: &Auth) -> RedisResult<redis::ConnectionInfo> {
    use redis::IntoConnectionInfo;
    let mut redis = redis::RedisConnectionInfo::default();
    if let Some(user) = &auth.username {
        redis = redis.set_username(user);
    }
    if let Some(password) = &auth.password {
        redis = redis.set_password(password.expose());
    }
    Ok(node_addr(node, tls)
        .into_connection_info()?
        .set_redis_settings(redis))
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}
