//! Real Redis processes of our own on free loopback ports: one `redis-server`, or a Redis
//! Cluster of three primaries and three replicas. Every process is killed by its PID on drop,
//! and a cluster's directory removed.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Keys and their values.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// How long a server, a cluster or a failover may take before the test gives up.
const START_WITHIN: Duration = Duration::from_secs(20);
const FAILOVER_WITHIN: Duration = Duration::from_secs(30);

fn redis_server() -> Command {
    let mut command = Command::new("redis-server");
    command
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn spawn(command: &mut Command) -> Child {
    command
        .spawn()
        .expect("redis-server is installed (apt-get install redis-server)")
}

/// Whether something on `port` answers `PING` (with `PONG`, or asking for a password).
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 64];
    stream.write_all(b"PING\r\n").is_ok()
        && stream
            .read(&mut buf)
            .is_ok_and(|n| buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH"))
}

/// `n` distinct free loopback ports, each with `port + 10000` free too (a cluster node's bus).
fn free_ports(n: usize) -> Vec<u16> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < n {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().unwrap().port();
        if port > 55_535 {
            continue;
        }
        if let Ok(bus) = TcpListener::bind(("127.0.0.1", port + 10_000)) {
            held.push(listener);
            held.push(bus);
            ports.push(port);
        }
    }
    ports
}

// ----- one server --------------------------------------------------------------------------------

/// A `redis-server` of our own on a free loopback port, killed on drop.
pub struct RedisServer {
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Self {
        let mut server = Self {
            port: free_ports(1)[0],
            args: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        server.restart();
        server
    }

    /// Starts it (again) on the same port, and waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        self.child = Some(spawn(
            redis_server()
                .args(["--port", &self.port.to_string()])
                .args(&self.args),
        ));
        let started = Instant::now();
        while !answers(self.port) {
            assert!(
                started.elapsed() < START_WITHIN,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

// ----- a cluster ---------------------------------------------------------------------------------

/// A Redis Cluster of our own: three primaries, each with one replica, on free loopback ports,
/// `cluster-node-timeout` one second. Killed on drop, its directory removed.
pub struct RedisCluster {
    dir: PathBuf,
    /// Port → process (`None` once killed); killed while the test goes on.
    nodes: Mutex<Vec<(u16, Option<Child>)>>,
    /// The ACL user and password to talk to the nodes with, if they want one.
    auth: Option<(String, String)>,
}

impl RedisCluster {
    pub fn start() -> Self {
        Self::start_with(&[], None)
    }

    /// A cluster whose nodes also take `extra` arguments, talked to as `auth` (user, password).
    pub fn start_with(extra: &[&str], auth: Option<(&str, &str)>) -> Self {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "thoughtspot-auth-cluster-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let cluster = Self {
            dir,
            nodes: Mutex::new(Vec::new()),
            auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
        };
        // A port taken by someone else between our look and the server's bind: new ports.
        for attempt in 1.. {
            match cluster.try_start(extra) {
                Ok(()) => break,
                Err(why) if attempt < 3 => {
                    eprintln!("starting the cluster again: {why}");
                    cluster.kill_all();
                    cluster.nodes().clear();
                }
                Err(why) => panic!("the Redis Cluster did not start: {why}"),
            }
        }
        cluster
    }

    fn nodes(&self) -> std::sync::MutexGuard<'_, Vec<(u16, Option<Child>)>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn try_start(&self, extra: &[&str]) -> Result<(), String> {
        for port in free_ports(6) {
            let child = spawn(
                redis_server()
                    .args(["--port", &port.to_string()])
                    .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
                    .arg("--cluster-config-file")
                    .arg(self.dir.join(format!("nodes-{port}.conf")))
                    .arg("--dir")
                    .arg(&self.dir)
                    .args(["--dbfilename", &format!("dump-{port}.rdb")])
                    // A replica's first sync at once, not after the default five seconds: a
                    // replica that never synced cannot be promoted.
                    .args(["--repl-diskless-sync-delay", "0"])
                    .args(extra),
            );
            self.nodes().push((port, Some(child)));
        }
        let started = Instant::now();
        for (port, child) in self.nodes().iter_mut() {
            while !answers(*port) {
                if let Some(Ok(Some(status))) = child.as_mut().map(Child::try_wait) {
                    return Err(format!("redis-server on {port} ended: {status}"));
                }
                if started.elapsed() > START_WITHIN {
                    return Err(format!("redis-server on {port} did not answer"));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for port in self.ports() {
            create.arg(format!("127.0.0.1:{port}"));
        }
        create.args(["--cluster-replicas", "1", "--cluster-yes"]);
        if let Some((user, password)) = &self.auth {
            create.args(["--user", user, "--pass", password, "--no-auth-warning"]);
        }
        let output = create
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli is installed (apt-get install redis-server)");
        if !output.status.success() {
            return Err(format!(
                "redis-cli --cluster create: {}",
                String::from_utf8_lossy(&output.stdout)
            ));
        }
        wait_until_ok(&self.ports(), self.auth.clone(), START_WITHIN);
        Ok(())
    }

    /// The ports of the nodes still running.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes()
            .iter()
            .filter(|(_, child)| child.is_some())
            .map(|(port, _)| *port)
            .collect()
    }

    /// Every node's URL: the store's seeds.
    pub fn urls(&self) -> Vec<String> {
        self.nodes()
            .iter()
            .map(|(port, _)| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    /// A connection to the node on `port`.
    pub fn connect(&self, port: u16) -> redis::Connection {
        connect(port, self.auth.as_ref())
    }

    /// The ports of the primaries, as the first running node sees them.
    pub fn primaries(&self) -> Vec<u16> {
        let nodes = cluster_nodes(&mut self.connect(self.ports()[0]));
        nodes
            .iter()
            .filter(|n| n.primary && !n.failed)
            .map(|n| n.port)
            .collect()
    }

    /// The port of the primary that owns `key`'s slot.
    pub fn owner_of(&self, key: &[u8]) -> u16 {
        let mut connection = self.connect(self.ports()[0]);
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut connection)
            .expect("CLUSTER KEYSLOT");
        cluster_nodes(&mut connection)
            .into_iter()
            .find(|n| n.primary && !n.failed && n.slots.iter().any(|r| r.contains(&slot)))
            .map(|n| n.port)
            .unwrap_or_else(|| panic!("no primary owns slot {slot}"))
    }

    /// Kills the node on `port` (SIGKILL, by its PID): a crash.
    pub fn kill(&self, port: u16) {
        for (p, child) in self.nodes().iter_mut() {
            if *p == port {
                if let Some(mut child) = child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }

    pub fn kill_all(&self) {
        for port in self.ports() {
            self.kill(port);
        }
    }

    /// A check that can run on a blocking thread while the test goes on: every running node
    /// says `cluster_state:ok`, every replica is in sync with its primary, and no primary
    /// the running nodes know of is failed without a promoted successor.
    pub fn waiter(&self) -> impl FnOnce() + Send + 'static {
        let ports = self.ports();
        let auth = self.auth.clone();
        move || wait_until_ok(&ports, auth, FAILOVER_WITHIN)
    }

    /// Every key and its value on every primary.
    pub fn dump(&self) -> Entries {
        self.keys_by_primary().into_values().flatten().collect()
    }

    /// Every primary's keys and values.
    pub fn keys_by_primary(&self) -> HashMap<u16, Entries> {
        self.primaries()
            .into_iter()
            .map(|port| {
                let mut connection = self.connect(port);
                let keys: Vec<Vec<u8>> =
                    redis::cmd("KEYS").arg("*").query(&mut connection).unwrap();
                let entries = keys
                    .into_iter()
                    .map(|key| {
                        let value: Option<Vec<u8>> =
                            redis::cmd("GET").arg(&key).query(&mut connection).unwrap();
                        (key, value.unwrap_or_default())
                    })
                    .collect();
                (port, entries)
            })
            .collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.kill_all();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn connect(port: u16, auth: Option<&(String, String)>) -> redis::Connection {
    try_connect(port, auth).unwrap_or_else(|e| panic!("a connection to the node on {port}: {e}"))
}

fn try_connect(port: u16, auth: Option<&(String, String)>) -> Result<redis::Connection, String> {
    let url = match auth {
        Some((user, password)) => format!("redis://{user}:{password}@127.0.0.1:{port}"),
        None => format!("redis://127.0.0.1:{port}"),
    };
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let connection = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    connection
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    Ok(connection)
}

/// One line of `CLUSTER NODES`.
struct Node {
    port: u16,
    primary: bool,
    failed: bool,
    slots: Vec<std::ops::RangeInclusive<u16>>,
}

fn cluster_nodes(connection: &mut redis::Connection) -> Vec<Node> {
    let text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query(connection)
        .expect("CLUSTER NODES");
    parse_nodes(&text)
}

fn parse_nodes(text: &str) -> Vec<Node> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // <id> <ip:port@bus> <flags> <primary> <ping> <pong> <epoch> <link> <slot>...
            let port = fields.get(1)?.split('@').next()?.rsplit(':').next()?;
            let flags = fields.get(2)?;
            let slots = fields
                .iter()
                .skip(8)
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some(a.parse().ok()?..=b.parse().ok()?),
                    None => s.parse().ok().map(|a| a..=a),
                })
                .collect();
            Some(Node {
                port: port.parse().ok()?,
                primary: flags.contains("master"),
                failed: flags.contains("fail"),
                slots,
            })
        })
        .collect()
}

/// Waits (polling, at most `within`) until every node on `ports` says `cluster_state:ok`, every
/// replica among them is in sync with its primary, and every slot is served by a running node.
fn wait_until_ok(ports: &[u16], auth: Option<(String, String)>, within: Duration) {
    let started = Instant::now();
    let mut why = String::new();
    while started.elapsed() < within {
        match cluster_ok(ports, auth.as_ref()) {
            Ok(()) => return,
            Err(e) => why = e,
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "the Redis Cluster was not ok within {} s: {why}",
        within.as_secs()
    );
}

fn cluster_ok(ports: &[u16], auth: Option<&(String, String)>) -> Result<(), String> {
    for &port in ports {
        let mut connection = try_connect(port, auth).map_err(|e| format!("node {port}: {e}"))?;
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query(&mut connection)
            .map_err(|e| e.to_string())?;
        if !info.contains("cluster_state:ok") {
            return Err(format!("node {port}: cluster_state is not ok"));
        }
        let replication: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut connection)
            .map_err(|e| e.to_string())?;
        if replication.contains("role:slave") && !replication.contains("master_link_status:up") {
            return Err(format!("replica {port} is not in sync with its primary"));
        }
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut connection)
            .map_err(|e| e.to_string())?;
        let served: u32 = parse_nodes(&nodes)
            .iter()
            .filter(|n| n.primary && !n.failed && ports.contains(&n.port))
            .flat_map(|n| n.slots.iter())
            .map(|r| u32::from(*r.end()) - u32::from(*r.start()) + 1)
            .sum();
        if served != 16_384 {
            return Err(format!(
                "node {port} sees {served} of 16384 slots on running primaries"
            ));
        }
    }
    Ok(())
}
