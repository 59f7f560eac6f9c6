//! Concurrent map candidates for the multi-user slot map (`src/authenticator/slots.rs`), side by
//! side in one criterion run: the map alone, outside the layer.
//!
//! ```text
//! cd benches/map_candidates && CARGO_TARGET_DIR=../../target cargo bench
//! ```
//!
//! Each lookup finds the slot of a (user, org) key built afresh (a new `Arc<str>`, as a
//! request's `ActAs` carries), touches its epoch, loads its credential, checks the phase and
//! clones the header: what `SlotMap::with` and the hot path do. Batches of 1,024 random keys
//! are built before the clock starts; the candidates take turns batch by batch (the order
//! rotated each round), on one thread and on two at once (thread CPU time), over 10,000 and
//! 100,000 keys. Before the lookups, the time to insert every key is printed.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderValue;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Key {
    user: Option<Arc<str>>,
    org: Option<i64>,
}

struct Cred {
    phase: AtomicU8,
    _generation: u64,
    header: HeaderValue,
    _rest: [u64; 20],
}

/// Laid out like today's Slot: the credential and the epoch some 700 bytes apart.
struct Slot {
    _key: Key,
    credential: ArcSwapOption<Cred>,
    _cold: [u64; 80],
    last_used: AtomicU64,
}

static EPOCH: AtomicU64 = AtomicU64::new(7);

#[inline(always)]
fn serve(slot: &Slot, out: &mut Vec<HeaderValue>) {
    let epoch = EPOCH.load(Ordering::Relaxed);
    if slot.last_used.load(Ordering::Relaxed) != epoch {
        slot.last_used.store(epoch, Ordering::Relaxed);
    }
    let c = slot.credential.load();
    if let Some(c) = c.as_deref() {
        if c.phase.load(Ordering::Acquire) < 2 {
            out.push(c.header.clone());
        }
    }
}

struct Shards<S> {
    shards: Box<[ArcSwap<HashMap<Key, Arc<Slot>, S>>]>,
    writers: Box<[Mutex<()>]>,
    hasher: S,
}

impl<S: BuildHasher + Clone + Default> Shards<S> {
    fn new(n: usize) -> Self {
        Self {
            shards: (0..n)
                .map(|_| ArcSwap::from_pointee(HashMap::with_hasher(S::default())))
                .collect(),
            writers: (0..n).map(|_| Mutex::new(())).collect(),
            hasher: S::default(),
        }
    }
    #[inline(always)]
    fn with(&self, key: &Key, out: &mut Vec<HeaderValue>) {
        let i = (self.hasher.hash_one(key) as usize) % self.shards.len();
        let shard = self.shards[i].load();
        if let Some(slot) = shard.get(key) {
            serve(slot, out)
        }
    }
    fn insert(&self, key: Key, slot: Arc<Slot>) {
        let i = (self.hasher.hash_one(&key) as usize) % self.shards.len();
        let _w = self.writers[i].lock().unwrap();
        let mut next = HashMap::clone(&self.shards[i].load_full());
        next.insert(key, slot);
        self.shards[i].store(Arc::new(next));
    }
}

type Fold = foldhash::fast::RandomState;

struct Maps {
    shards_sip: Shards<std::collections::hash_map::RandomState>,
    shards_fold: Shards<Fold>,
    papaya: papaya::HashMap<Key, Arc<Slot>, Fold>,
    scc: scc::HashIndex<Key, Arc<Slot>, Fold>,
    quick: quick_cache::sync::Cache<Key, Arc<Slot>>,
    moka: moka::sync::Cache<Key, Arc<Slot>>,
    papaya_sip: papaya::HashMap<Key, Arc<Slot>>,
    scc_sip: scc::HashIndex<Key, Arc<Slot>>,
    names: Vec<String>,
}

const N: usize = 8;
const IDS: [&str; N] = [
    "arcswap_shards_sip (before)",
    "arcswap_shards_foldhash",
    "papaya_foldhash (chosen)",
    "papaya_sip",
    "scc_hashindex_foldhash",
    "scc_hashindex_sip",
    "quick_cache (rwlock)",
    "moka",
];

fn slot(name: &str) -> (Key, Arc<Slot>) {
    let key = Key {
        user: Some(name.into()),
        org: None,
    };
    let cred = Cred {
        phase: AtomicU8::new(0),
        _generation: 1,
        header: HeaderValue::from_str(&format!("Bearer token-of-{name}-0123456789abcdef")).unwrap(),
        _rest: [0; 20],
    };
    // Promote the header's bytes to shared once, as the first request does.
    drop(cred.header.clone());
    let slot = Arc::new(Slot {
        _key: key.clone(),
        credential: ArcSwapOption::from_pointee(cred),
        _cold: [0; 80],
        last_used: AtomicU64::new(0),
    });
    (key, slot)
}

fn build(n: usize) -> Maps {
    let names: Vec<String> = (0..n).map(|i| format!("user-{i:06}")).collect();
    let maps = Maps {
        shards_sip: Shards::new(32),
        shards_fold: Shards::new(32),
        papaya: papaya::HashMap::with_hasher(Fold::default()),
        scc: scc::HashIndex::with_hasher(Fold::default()),
        quick: quick_cache::sync::Cache::new(n + n / 4),
        moka: moka::sync::Cache::new((n + n / 4) as u64),
        papaya_sip: papaya::HashMap::new(),
        scc_sip: scc::HashIndex::default(),
        names,
    };
    let mut fill = [Duration::ZERO; N];
    for name in &maps.names {
        let (key, slot) = slot(name);
        let t = Instant::now();
        maps.shards_sip.insert(key.clone(), slot.clone());
        fill[0] += t.elapsed();
        let t = Instant::now();
        maps.shards_fold.insert(key.clone(), slot.clone());
        fill[1] += t.elapsed();
        let t = Instant::now();
        maps.papaya.pin().insert(key.clone(), slot.clone());
        fill[2] += t.elapsed();
        let t = Instant::now();
        maps.papaya_sip.pin().insert(key.clone(), slot.clone());
        fill[3] += t.elapsed();
        let t = Instant::now();
        let _ = maps.scc.insert_sync(key.clone(), slot.clone());
        fill[4] += t.elapsed();
        let t = Instant::now();
        let _ = maps.scc_sip.insert_sync(key.clone(), slot.clone());
        fill[5] += t.elapsed();
        let t = Instant::now();
        maps.quick.insert(key.clone(), slot.clone());
        fill[6] += t.elapsed();
        let t = Instant::now();
        maps.moka.insert(key, slot);
        fill[7] += t.elapsed();
    }
    maps.moka.run_pending_tasks();
    eprintln!("\nfill {n} keys, one thread, ns per insert:");
    for (id, d) in IDS.iter().zip(fill) {
        eprintln!("  {id:26} {:9.0}", d.as_nanos() as f64 / n as f64);
    }
    maps
}

fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

const CHUNK: usize = 1024;

/// Runs CHUNK lookups of candidate `id` on this thread; returns their CPU time.
fn chunk(maps: &Maps, id: usize, keys: &[Key], out: &mut Vec<HeaderValue>) -> Duration {
    let start = cpu_now();
    match id {
        0 => keys.iter().for_each(|k| maps.shards_sip.with(k, out)),
        1 => keys.iter().for_each(|k| maps.shards_fold.with(k, out)),
        2 => keys.iter().for_each(|k| {
            let g = maps.papaya.guard();
            if let Some(s) = maps.papaya.get(k, &g) {
                serve(s, out)
            }
        }),
        3 => keys.iter().for_each(|k| {
            let g = maps.papaya_sip.guard();
            if let Some(s) = maps.papaya_sip.get(k, &g) {
                serve(s, out)
            }
        }),
        4 => keys.iter().for_each(|k| {
            maps.scc.peek_with(k, |_, s| serve(s, out));
        }),
        5 => keys.iter().for_each(|k| {
            maps.scc_sip.peek_with(k, |_, s| serve(s, out));
        }),
        6 => keys.iter().for_each(|k| {
            if let Some(s) = maps.quick.get(k) {
                serve(&s, out)
            }
        }),
        _ => keys.iter().for_each(|k| {
            if let Some(s) = maps.moka.get(k) {
                serve(&s, out)
            }
        }),
    }
    let t = cpu_now() - start;
    assert_eq!(out.len(), keys.len());
    t
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// One thread's share of a sample: `iters` lookups of every candidate, in chunks taking turns.
fn run_thread(maps: &Maps, iters: u64, seed: u64, barrier: Option<&Barrier>) -> [Duration; N] {
    let mut rng = Lcg(seed);
    let mut times = [Duration::ZERO; N];
    let mut out = Vec::with_capacity(CHUNK);
    let mut keys: Vec<Key> = Vec::with_capacity(CHUNK);
    let rounds = (iters as usize).div_ceil(CHUNK);
    for round in 0..rounds {
        for step in 0..N {
            let id = (round + step) % N;
            keys.clear();
            keys.extend((0..CHUNK).map(|_| Key {
                user: Some(maps.names[rng.next(maps.names.len())].as_str().into()),
                org: None,
            }));
            out.clear();
            if let Some(b) = barrier {
                b.wait();
            }
            times[id] += chunk(maps, id, &keys, &mut out);
        }
    }
    times
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("maps");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    let mut report = Vec::new();
    for n in [10_000usize, 100_000] {
        let maps = build(n);
        for threads in [1usize, 2] {
            let mut samples: Vec<[f64; N]> = Vec::new();
            group.bench_function(format!("{n}_keys_{threads}_threads"), |b| {
                b.iter_custom(|iters| {
                    let iters = iters.max(CHUNK as u64);
                    let times: Vec<[Duration; N]> = if threads == 1 {
                        vec![run_thread(&maps, iters, iters ^ 0x9e37, None)]
                    } else {
                        let barrier = Barrier::new(2);
                        std::thread::scope(|s| {
                            let hs: Vec<_> = (0..2)
                                .map(|t| {
                                    let (maps, barrier) = (&maps, &barrier);
                                    s.spawn(move || {
                                        run_thread(maps, iters, iters ^ t, Some(barrier))
                                    })
                                })
                                .collect();
                            hs.into_iter().map(|h| h.join().unwrap()).collect()
                        })
                    };
                    let ops = (iters as usize).div_ceil(CHUNK) * CHUNK;
                    let mut per = [0f64; N];
                    for id in 0..N {
                        let total: Duration = times.iter().map(|t| t[id]).sum();
                        per[id] = total.as_nanos() as f64 / (ops * times.len()) as f64;
                    }
                    samples.push(per);
                    times
                        .iter()
                        .map(|t| t.iter().sum::<Duration>())
                        .sum::<Duration>()
                        / times.len() as u32
                })
            });
            report.push((n, threads, samples));
        }
    }
    group.finish();
    println!("\nns per lookup (thread CPU time), median [interquartile range] over samples:");
    for (n, threads, samples) in report {
        println!("{n} keys, {threads} thread(s):");
        for (id, name) in IDS.iter().enumerate() {
            let mut v: Vec<f64> = samples.iter().map(|s| s[id]).collect();
            v.sort_by(f64::total_cmp);
            let q = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
            println!("  {name:26} {:7.1} [{:.1}-{:.1}]", q(0.5), q(0.25), q(0.75));
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
