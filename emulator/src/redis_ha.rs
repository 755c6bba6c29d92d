//! Highly available Redis for the shared cache's tests, from the same Debian `redis-server`: a
//! master, a replica and three sentinels ([`RedisSentinels`]), or a cluster of three masters
//! ([`RedisCluster`]). Every process on a free loopback port, in a directory of its own, killed
//! when dropped.

use std::process::Command;
use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};

use crate::redis_server::{RedisServer, free_port, scratch_dir, share_tls_files, urlencode};

/// The name the sentinels know the master by.
pub const MASTER_NAME: &str = "certless-master";

/// A master, its replica, and three sentinels that watch them (quorum 2).
pub struct RedisSentinels {
    /// The first master, then its replica (either may be the master after a failover).
    pub servers: Vec<RedisServer>,
    /// The three sentinels.
    pub sentinels: Vec<RedisServer>,
    password: Option<String>,
    sentinel_password: Option<String>,
    tls: bool,
}

impl RedisSentinels {
    /// Starts the set, no passwords, and waits until a failover could happen.
    pub fn start(name: &str) -> Self {
        Self::start_with(name, None, None, false)
    }

    /// With `password` on the master and the replica (`requirepass`, and `masterauth` so that
    /// either can follow the other), `sentinel_password` on the sentinels, and TLS only (every
    /// server and sentinel, and between them, with one CA) when `tls`.
    pub fn start_with(
        name: &str,
        password: Option<&str>,
        sentinel_password: Option<&str>,
        tls: bool,
    ) -> Self {
        let mut auth: Vec<String> = password
            .map(|p| vec!["--masterauth".to_string(), p.to_string()])
            .unwrap_or_default();
        if tls {
            auth.extend(["--tls-replication".to_string(), "yes".to_string()]);
        }
        let master = RedisServer::start_in(
            scratch_dir(&format!("{name}-m")),
            None,
            &auth,
            password,
            tls,
        );
        let tls_dir: Option<PathBuf> = tls.then(|| {
            let ca = master.ca_file().expect("a TLS master has a CA");
            ca.parent().expect("its directory").to_path_buf()
        });
        let dir_for = |suffix: String| {
            let dir = scratch_dir(&suffix);
            if let Some(from) = &tls_dir {
                share_tls_files(from, &dir);
            }
            dir
        };
        let mut replicaof = vec![
            "--replicaof".to_string(),
            "127.0.0.1".to_string(),
            master.port.to_string(),
        ];
        replicaof.extend(auth.iter().cloned());
        let replica = RedisServer::start_in(
            dir_for(format!("{name}-r")),
            None,
            &replicaof,
            password,
            tls,
        );
        wait("the replica to sync", || {
            replica
                .cli(&["INFO", "replication"])
                .contains("master_link_status:up")
        });
        // The sentinels start once the replica is in sync: their first INFO of the master lists
        // it, so that a failover has a replica to promote at once.
        let sentinels = (0..3)
            .map(|i| {
                let dir = dir_for(format!("{name}-s{i}"));
                let config = dir.join("sentinel.conf");
                let mut text = format!(
                    "sentinel monitor {MASTER_NAME} 127.0.0.1 {port} 2\n\
                     sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                     sentinel failover-timeout {MASTER_NAME} 5000\n",
                    port = master.port
                );
                if let Some(p) = password {
                    text.push_str(&format!("sentinel auth-pass {MASTER_NAME} {p}\n"));
                }
                if let Some(p) = sentinel_password {
                    // What a sentinel sends the other sentinels, which require it too.
                    text.push_str(&format!("sentinel sentinel-pass {p}\n"));
                }
                std::fs::write(&config, text).expect("write sentinel.conf");
                let mut args = vec!["--sentinel".to_string()];
                if tls {
                    args.extend(["--tls-replication".to_string(), "yes".to_string()]);
                }
                RedisServer::start_in(dir, Some(config), &args, sentinel_password, tls)
            })
            .collect::<Vec<_>>();
        let set = RedisSentinels {
            servers: vec![master, replica],
            sentinels,
            password: password.map(str::to_string),
            sentinel_password: sentinel_password.map(str::to_string),
            tls,
        };
        // Ready when each sentinel knows the replica and the other two (which they learn from
        // each other's hello messages, every 2 s).
        wait("the sentinels to know each other", || {
            set.sentinels.iter().all(|s| {
                s.cli(&["SENTINEL", "ckquorum", MASTER_NAME])
                    .starts_with("OK 3")
                    && s.cli(&["SENTINEL", "replicas", MASTER_NAME])
                        .contains("slave")
            })
        });
        set
    }

    /// The URL certless is given.
    pub fn url(&self) -> String {
        let hosts = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect::<Vec<_>>()
            .join(",");
        let user = match &self.password {
            Some(p) => format!(":{}@", urlencode(p)),
            None => String::new(),
        };
        let query = match &self.sentinel_password {
            Some(p) => format!("?sentinel_password={}", urlencode(p)),
            None => String::new(),
        };
        let scheme = match self.tls {
            true => "rediss+sentinel",
            false => "redis+sentinel",
        };
        format!("{scheme}://{user}{hosts}/{MASTER_NAME}{query}")
    }

    /// The CA every server's and sentinel's certificate is signed by, with TLS.
    pub fn ca_file(&self) -> Option<&Path> {
        self.servers[0].ca_file()
    }

    /// The port of the master, as the first sentinel that answers says.
    pub fn master_port(&self) -> Option<u16> {
        self.sentinels
            .iter()
            .filter(|s| s.is_running())
            .find_map(|s| {
                let answer = s.cli(&["SENTINEL", "get-master-addr-by-name", MASTER_NAME]);
                answer.lines().nth(1)?.trim().parse().ok()
            })
    }

    /// The server that is the master now.
    pub fn master(&self) -> &RedisServer {
        let port = self.master_port().expect("a sentinel names the master");
        self.servers
            .iter()
            .find(|s| s.port == port)
            .expect("the master is one of ours")
    }

    /// Kills the master; returns its port.
    pub fn kill_master(&mut self) -> u16 {
        let port = self.master_port().expect("a sentinel names the master");
        let master = self
            .servers
            .iter_mut()
            .find(|s| s.port == port)
            .expect("the master is one of ours");
        master.kill();
        port
    }

    /// Waits until every sentinel names a master other than `old`, and that server says it is
    /// the master.
    pub fn wait_for_new_master(&self, old: u16) {
        wait("the sentinels to fail over", || {
            let named: Vec<Option<u16>> = self
                .sentinels
                .iter()
                .map(|s| {
                    let answer = s.cli(&["SENTINEL", "get-master-addr-by-name", MASTER_NAME]);
                    answer.lines().nth(1).and_then(|p| p.trim().parse().ok())
                })
                .collect();
            let Some(Some(new)) = named.first().copied() else {
                return false;
            };
            new != old
                && named.iter().all(|p| *p == Some(new))
                && self
                    .servers
                    .iter()
                    .find(|s| s.port == new)
                    .is_some_and(|s| s.cli(&["ROLE"]).starts_with("master"))
        });
    }
}

/// A Redis Cluster of three masters, no replicas, all 16384 slots assigned.
pub struct RedisCluster {
    /// The three nodes, each the master of a third of the slots.
    pub nodes: Vec<RedisServer>,
    password: Option<String>,
    tls: bool,
}

impl RedisCluster {
    /// Starts the nodes, makes them a cluster and waits until it serves every slot.
    pub fn start(name: &str) -> Self {
        Self::start_with(name, None, false)
    }

    /// With `password` on every node, and TLS only (clients and the cluster bus, one CA) when
    /// `tls`.
    pub fn start_with(name: &str, password: Option<&str>, tls: bool) -> Self {
        let mut first_dir: Option<PathBuf> = None;
        let nodes: Vec<RedisServer> = (0..3)
            .map(|i| {
                let dir = scratch_dir(&format!("{name}-c{i}"));
                if let Some(from) = &first_dir {
                    share_tls_files(from, &dir);
                }
                let mut args: Vec<String> = [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &dir.join("nodes.conf").display().to_string(),
                    "--cluster-node-timeout",
                    "1000",
                    // The bus port defaults to the port + 10000, which may be taken or past 65535.
                    "--cluster-port",
                    &free_port().to_string(),
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                if let Some(p) = password {
                    args.extend(["--masterauth".to_string(), p.to_string()]);
                }
                if tls {
                    args.extend(["--tls-cluster".to_string(), "yes".to_string()]);
                }
                let node = RedisServer::start_in(dir.clone(), None, &args, password, tls);
                if tls && first_dir.is_none() {
                    first_dir = Some(dir);
                }
                node
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let mut create = Command::new("redis-cli");
        if let Some(p) = password {
            create.args(["--no-auth-warning", "-a", p]);
        }
        if let Some(ca) = nodes[0].ca_file() {
            create.args(["--tls", "--cacert"]).arg(ca);
        }
        let out = create
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = RedisCluster {
            nodes,
            password: password.map(str::to_string),
            tls,
        };
        wait("the cluster to be ok", || {
            cluster.nodes.iter().all(|n| {
                n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok")
                    && n.cli(&["CLUSTER", "NODES"]).lines().count() == 3
            })
        });
        cluster
    }

    /// The URL certless is given: two of the three nodes (it learns the third from them).
    pub fn url(&self) -> String {
        let scheme = match self.tls {
            true => "rediss+cluster",
            false => "redis+cluster",
        };
        let user = match &self.password {
            Some(p) => format!(":{}@", urlencode(p)),
            None => String::new(),
        };
        format!(
            "{scheme}://{user}127.0.0.1:{},127.0.0.1:{}",
            self.nodes[0].port, self.nodes[1].port
        )
    }

    /// The CA every node's certificate is signed by, with TLS.
    pub fn ca_file(&self) -> Option<&Path> {
        self.nodes[0].ca_file()
    }

    /// Moves the slot of `key`, with its keys, from the node that serves it to node `to`, as a
    /// resharding does: a client that learned the old map is then answered `MOVED` for it.
    /// Returns the node it came from.
    pub fn move_slot_of(&self, key: &str, to: usize) -> usize {
        let from = self
            .nodes
            .iter()
            .position(|n| n.is_running() && n.cli(&["EXISTS", key]) == "1")
            .expect("a node holds the key");
        assert_ne!(from, to, "the key is already on node {to}");
        let (src, dst) = (&self.nodes[from], &self.nodes[to]);
        let slot = src.cli(&["CLUSTER", "KEYSLOT", key]);
        let src_id = src.cli(&["CLUSTER", "MYID"]);
        let dst_id = dst.cli(&["CLUSTER", "MYID"]);
        assert_eq!(
            dst.cli(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &src_id]),
            "OK"
        );
        assert_eq!(
            src.cli(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &dst_id]),
            "OK"
        );
        for moving in src
            .cli(&["CLUSTER", "GETKEYSINSLOT", &slot, "1000"])
            .lines()
        {
            let port = dst.port.to_string();
            let answer = src.cli(&["MIGRATE", "127.0.0.1", &port, moving, "0", "5000"]);
            assert_eq!(answer, "OK", "MIGRATE {moving}");
        }
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            assert_eq!(
                node.cli(&["CLUSTER", "SETSLOT", &slot, "NODE", &dst_id]),
                "OK"
            );
        }
        from
    }

    /// The keys certless wrote, node by node.
    pub fn entry_keys_by_node(&self) -> Vec<Vec<String>> {
        self.nodes
            .iter()
            .map(|n| match n.is_running() {
                true => n.entry_keys(),
                false => Vec::new(),
            })
            .collect()
    }
}

fn wait(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "waited 30 s for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
