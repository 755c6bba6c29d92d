//! Where the shared cache's Redis is: one server, a master found through Sentinel, or a Redis
//! Cluster; each written as one URL (docs/shared-cache.md, "Sentinel and Cluster").
//!
//! One server keeps the URL redis-rs reads (`redis://`, `rediss://`, `redis+unix://`, the
//! `valkey` spellings). redis-rs has no URL for Sentinel or Cluster (it takes a list of nodes), so
//! those are ours, in the form other clients use: every node in the authority, comma-separated.
//! Passwords are wrapped as [`Secret`]s as soon as they are read, so no message shows them.

use std::fmt;

use crate::support::echo::echo;
use crate::support::secret::Secret;

/// The port a sentinel listens on unless told otherwise.
const SENTINEL_PORT: u16 = 26379;
const REDIS_PORT: u16 = 6379;

/// A parsed shared-cache address.
#[derive(Clone)]
pub(crate) struct Address {
    pub(crate) topology: Topology,
    /// The address without user or password, for messages and metrics.
    pub(crate) target: String,
}

#[derive(Clone)]
pub(crate) enum Topology {
    /// One server, or a name that moves to the new server at a failover: the URL as given.
    Single {
        url: Secret,
        /// Its password on its own, held so that it stays known to the redaction of server text
        /// ([`crate::support::secret`]) as long as the URL is in use.
        _password: Option<Secret>,
    },
    /// A master whose address the sentinels give.
    Sentinel(Sentinels),
    /// A Redis Cluster, reached through any of `nodes` (it tells where the others are).
    Cluster {
        nodes: Vec<Node>,
        tls: bool,
        auth: Auth,
    },
}

impl Topology {
    /// How the doctor names it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Topology::Single { .. } => "a single Redis",
            Topology::Sentinel(_) => "Redis Sentinel",
            Topology::Cluster { .. } => "Redis Cluster",
        }
    }
}

/// Sentinels, and the name of the master they watch.
#[derive(Clone)]
pub(crate) struct Sentinels {
    pub(crate) nodes: Vec<Node>,
    pub(crate) master: String,
    pub(crate) db: i64,
    pub(crate) tls: bool,
    /// For the master (and its replicas).
    pub(crate) auth: Auth,
    /// For the sentinels, which often have no password or one of their own.
    pub(crate) sentinel_auth: Auth,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A user and password (either may be absent); `Debug` shows neither.
#[derive(Clone, Default)]
pub(crate) struct Auth {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret>,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.target)
    }
}

/// What is wrong with an address, and how to write it instead.
#[derive(Debug)]
pub(crate) struct AddressError {
    pub(crate) why: String,
    pub(crate) remedy: &'static str,
}

/// Every form, for a message that cannot tell which one was meant.
pub(crate) const EVERY_FORM: &str = "Give redis://[user:password@]host:port[/db], rediss://... for TLS \
     (Azure Cache for Redis: rediss://:ACCESS_KEY@NAME.redis.cache.windows.net:6380), \
     redis+unix:///path/to/socket, redis+sentinel://[user:password@]host1:26379,host2:26379/\
     MASTER[/db] for Sentinel, or redis+cluster://[user:password@]host1:6379,host2:6379 for a \
     cluster (rediss+sentinel:// and rediss+cluster:// for TLS).";
const SENTINEL_FORM: &str = "Give redis+sentinel://[user:password@]host1:26379,host2:26379/\
     MASTER[/db][?sentinel_password=...] (rediss+sentinel:// for TLS): the sentinels, then the \
     name of the master they watch (sentinel monitor NAME ...). The password is the master's; \
     sentinel_username and sentinel_password are the sentinels' own, when they require one.";
const CLUSTER_FORM: &str = "Give redis+cluster://[user:password@]host1:6379,host2:6379 \
     (rediss+cluster:// for TLS): some of the cluster's nodes; certless learns the others from \
     them.";

/// Parses a shared-cache address.
pub(crate) fn parse(text: &str) -> Result<Address, AddressError> {
    let text = text.trim();
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(error(
            "the shared cache address is not a URL (no scheme://)",
            EVERY_FORM,
        ));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "redis+sentinel" => multi(rest, Kind::Sentinel, false),
        "rediss+sentinel" => multi(rest, Kind::Sentinel, true),
        "redis+cluster" => multi(rest, Kind::Cluster, false),
        "rediss+cluster" => multi(rest, Kind::Cluster, true),
        _ => single(text),
    }
}

fn error(why: impl Into<String>, remedy: &'static str) -> AddressError {
    AddressError {
        why: why.into(),
        remedy,
    }
}

/// One server: what redis-rs itself reads, checked here so that a mistake is a config error.
fn single(text: &str) -> Result<Address, AddressError> {
    let parsed = url::Url::parse(text).map_err(|e| {
        error(
            format!("the shared cache address is not a URL ({e})"),
            EVERY_FORM,
        )
    })?;
    let password = parsed.password().map(remember_password);
    let scheme = parsed.scheme();
    let target = match scheme {
        "redis" | "rediss" | "valkey" | "valkeys" => {
            let host = parsed.host_str().unwrap_or("");
            if host.is_empty() {
                return Err(error("the shared cache address has no host", EVERY_FORM));
            }
            let port = parsed.port().unwrap_or(REDIS_PORT);
            format!("{scheme}://{host}:{port}{}", parsed.path())
        }
        "redis+unix" | "valkey+unix" | "unix" => format!("{scheme}://{}", parsed.path()),
        other => {
            return Err(error(
                format!(
                    "the shared cache address has the scheme '{}', not redis://, rediss://, \
                     redis+sentinel:// or redis+cluster://",
                    echo(other)
                ),
                EVERY_FORM,
            ));
        }
    };
    Ok(Address {
        topology: Topology::Single {
            url: Secret::new(text),
            _password: password,
        },
        target,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sentinel,
    Cluster,
}

/// `[user:password@]host[:port],host[:port]...[/path][?query]`, after the scheme.
fn multi(rest: &str, kind: Kind, tls: bool) -> Result<Address, AddressError> {
    let (form, scheme, default_port) = match (kind, tls) {
        (Kind::Sentinel, false) => (SENTINEL_FORM, "redis+sentinel", SENTINEL_PORT),
        (Kind::Sentinel, true) => (SENTINEL_FORM, "rediss+sentinel", SENTINEL_PORT),
        (Kind::Cluster, false) => (CLUSTER_FORM, "redis+cluster", REDIS_PORT),
        (Kind::Cluster, true) => (CLUSTER_FORM, "rediss+cluster", REDIS_PORT),
    };
    // The user part ends at the last '@' (a password's own '@' should be %40, but one that is
    // not still stays out of every message).
    let (userinfo, rest) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let auth = userinfo.map(parse_userinfo).unwrap_or_default();
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (hosts, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash + 1..]),
        None => (rest, ""),
    };
    let mut sentinel_auth = Auth::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (kind, name) {
            (Kind::Sentinel, "sentinel_password") => {
                sentinel_auth.password = Some(remember_password(value));
            }
            (Kind::Sentinel, "sentinel_username") => {
                sentinel_auth.username = Some(decoded(value));
            }
            _ => {
                return Err(error(
                    format!(
                        "the shared cache address {scheme}:// has the parameter '{}', which \
                         certless does not know",
                        echo(&decoded(name))
                    ),
                    form,
                ));
            }
        }
    }
    let nodes = hosts
        .split(',')
        .map(|h| parse_node(h.trim(), default_port))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| error(format!("the shared cache address {scheme}://: {why}"), form))?;
    let list = nodes
        .iter()
        .map(Node::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    match kind {
        Kind::Sentinel => {
            let Some(master) = parts.next().map(decoded) else {
                return Err(error(
                    format!(
                        "the shared cache address {scheme}://{list} names no master (the path \
                         is the name the sentinels know it by)"
                    ),
                    form,
                ));
            };
            let db = match parts.next() {
                Some(db) => parse_db(db).map_err(|why| error(why, form))?,
                None => 0,
            };
            if parts.next().is_some() {
                return Err(error(
                    format!("the shared cache address {scheme}:// has more than /MASTER/db"),
                    form,
                ));
            }
            let target = match db {
                0 => format!("{scheme}://{list}/{master}"),
                db => format!("{scheme}://{list}/{master}/{db}"),
            };
            Ok(Address {
                topology: Topology::Sentinel(Sentinels {
                    nodes,
                    master,
                    db,
                    tls,
                    auth,
                    sentinel_auth,
                }),
                target: echo(&target).to_string(),
            })
        }
        Kind::Cluster => {
            if let Some(db) = parts.next() {
                if parse_db(db).map_err(|why| error(why, form))? != 0 || parts.next().is_some() {
                    return Err(error(
                        format!(
                            "the shared cache address {scheme}:// names a database; a Redis \
                             Cluster has only database 0"
                        ),
                        form,
                    ));
                }
            }
            Ok(Address {
                topology: Topology::Cluster { nodes, tls, auth },
                target: echo(&format!("{scheme}://{list}")).to_string(),
            })
        }
    }
}

fn parse_userinfo(userinfo: &str) -> Auth {
    match userinfo.split_once(':') {
        Some((user, password)) => Auth {
            username: (!user.is_empty()).then(|| decoded(user)),
            password: (!password.is_empty()).then(|| remember_password(password)),
        },
        None => Auth {
            username: (!userinfo.is_empty()).then(|| decoded(userinfo)),
            password: None,
        },
    }
}

/// `host`, `host:port` or `[v6]:port`.
fn parse_node(text: &str, default_port: u16) -> Result<Node, String> {
    if text.is_empty() {
        return Err("a host in its list is empty".to_string());
    }
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let Some((host, after)) = v6.split_once(']') else {
            return Err(format!("'{}' opens '[' but does not close it", echo(text)));
        };
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("'{}' is not host:port", echo(text))),
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!("'{}' is not a host", echo(text)));
    }
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("'{}' has the port '{}'", echo(text), echo(p))),
        },
        None => default_port,
    };
    Ok(Node {
        host: host.to_string(),
        port,
    })
}

fn parse_db(text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .ok()
        .filter(|db| *db >= 0)
        .ok_or_else(|| format!("the database '{}' is not a number", echo(text)))
}

/// A password from the URL, as a secret: both as written and percent-decoded, so that neither
/// spelling ever shows.
fn remember_password(raw: &str) -> Secret {
    let _ = Secret::new(raw);
    Secret::new(decoded(raw))
}

/// Percent-decoded (a `%` not followed by two hex digits stays as it is).
fn decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, port: u16) -> Node {
        Node {
            host: host.to_string(),
            port,
        }
    }

    #[test]
    fn sentinel_takes_its_nodes_master_and_db() {
        let a = parse(
            "rediss+sentinel://app:p%40ss-word-1@s1.internal,[::1]:26380,s3:5000/my%20master/2\
             ?sentinel_password=sentinel-secret-9",
        )
        .unwrap();
        let Topology::Sentinel(Sentinels {
            nodes,
            master,
            db,
            tls,
            auth,
            sentinel_auth,
        }) = &a.topology
        else {
            panic!("sentinel");
        };
        assert_eq!(
            nodes,
            &[
                node("s1.internal", 26379),
                node("::1", 26380),
                node("s3", 5000)
            ]
        );
        assert_eq!((master.as_str(), *db, *tls), ("my master", 2, true));
        assert_eq!(auth.username.as_deref(), Some("app"));
        assert_eq!(auth.password.as_ref().unwrap().expose(), "p@ss-word-1");
        assert_eq!(
            sentinel_auth.password.as_ref().unwrap().expose(),
            "sentinel-secret-9"
        );
        assert_eq!(
            a.target,
            "rediss+sentinel://s1.internal:26379,[::1]:26380,s3:5000/my master/2"
        );
        assert!(!format!("{a:?}").contains("p@ss") && !format!("{a:?}").contains("secret-9"));
    }

    #[test]
    fn cluster_takes_its_nodes() {
        let a = parse("redis+cluster://:pw-cluster-7@10.0.0.1,10.0.0.2:7001/").unwrap();
        let Topology::Cluster { nodes, tls, auth } = &a.topology else {
            panic!("cluster");
        };
        assert_eq!(nodes, &[node("10.0.0.1", 6379), node("10.0.0.2", 7001)]);
        assert!(!tls && auth.username.is_none());
        assert_eq!(a.target, "redis+cluster://10.0.0.1:6379,10.0.0.2:7001");
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        for (text, says) in [
            ("redis+sentinel://s1:26379", "names no master"),
            ("redis+sentinel://s1:26379/m/x", "database 'x'"),
            ("redis+sentinel://s1:26379/m/0/more", "more than /MASTER/db"),
            ("redis+sentinel://s1:26379,,s2/m", "empty"),
            ("redis+sentinel://s1:99999/m", "port '99999'"),
            (
                "redis+sentinel://s1/m?sentinel_pass=x",
                "parameter 'sentinel_pass'",
            ),
            ("redis+cluster://n1:6379/3", "only database 0"),
            ("redis+cluster://n1?sentinel_password=x", "parameter"),
            ("redis+cluster://[::1:6379", "does not close"),
            ("memcached://n1", "scheme 'memcached'"),
            ("n1:6379", "not a URL"),
        ] {
            let e = parse(text).err().unwrap_or_else(|| panic!("{text} parsed"));
            assert!(e.why.contains(says), "{text}: {}", e.why);
        }
    }
}
