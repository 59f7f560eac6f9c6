//! Ratios measured side by side: every id of a comparison runs in each criterion sample, in
//! short chunks that take turns (the order rotating from round to round), and each target's
//! ratio is computed within the sample, then summarised over all samples (median and
//! interquartile range).
//!
//! Criterion times each id in a stretch of seconds of its own, so on a machine whose neighbours
//! come and go (a shared VM), two ids can be measured under different loads and their ratio
//! moves by tens of per cent between runs. Here the ids of one sample run interleaved, within
//! microseconds to milliseconds of each other, so what the neighbours do falls on all of them
//! alike and cancels in the ratio.
#![allow(dead_code)]

use std::time::Duration;

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;

/// One id of a comparison: runs `iters` of its operation and says how long they took.
pub type Run<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// Runs `iters` operations of every one of `runs` in chunks of `chunk` that take turns, the
/// order rotated by one each round; returns each run's total time.
pub fn interleaved(runs: &mut [Run<'_>], iters: u64, chunk: u64) -> Vec<Duration> {
    let mut times = vec![Duration::ZERO; runs.len()];
    let mut left = iters;
    let mut round = 0;
    while left > 0 {
        let n = left.min(chunk);
        for step in 0..runs.len() {
            let at = (round + step) % runs.len();
            times[at] += (runs[at])(n);
        }
        left -= n;
        round += 1;
    }
    times
}

/// Time per operation of every id, sample by sample.
pub struct Samples {
    names: Vec<&'static str>,
    /// Per sample, per id (in `names` order): nanoseconds per operation.
    per_sample: Vec<Vec<f64>>,
}

impl Samples {
    /// The time of `name` in `sample`, in nanoseconds per operation.
    pub fn of(&self, sample: &[f64], name: &str) -> f64 {
        let at = self
            .names
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("no id {name} in this comparison"));
        sample[at]
    }

    /// `ratio` computed in every sample: its median and interquartile range.
    pub fn summary(&self, ratio: impl Fn(&Self, &[f64]) -> f64) -> Summary {
        let mut ratios: Vec<f64> = self
            .per_sample
            .iter()
            .map(|sample| ratio(self, sample))
            .filter(|r| r.is_finite())
            .collect();
        ratios.sort_by(f64::total_cmp);
        let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
        if ratios.is_empty() {
            return Summary::default();
        }
        Summary {
            median: at(0.5),
            low: at(0.25),
            high: at(0.75),
            samples: ratios.len(),
        }
    }

    /// The median over samples of each id's time per operation.
    pub fn median_of(&self, name: &str) -> f64 {
        self.summary(|s, sample| s.of(sample, name)).median
    }
}

/// A ratio over samples.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub median: f64,
    /// First quartile.
    pub low: f64,
    /// Third quartile.
    pub high: f64,
    pub samples: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} (interquartile {:.2}–{:.2}, {} samples)",
            self.median, self.low, self.high, self.samples
        )
    }
}

/// Adds the criterion id `id` to `group`: each of its samples calls `sample` with the sample's
/// `iters`, which runs that many operations of every id in `names` side by side (see
/// [`interleaved`]) and returns each id's time; criterion is told their sum. Returns every
/// sample's times per operation once the group has run it (none if a filter left it out).
pub fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    names: &[&'static str],
    mut sample: impl FnMut(u64) -> Vec<Duration>,
) -> Samples {
    let mut per_sample = Vec::new();
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let times = sample(iters);
            assert_eq!(times.len(), names.len(), "one time per id");
            per_sample.push(
                times
                    .iter()
                    .map(|t| t.as_secs_f64() * 1e9 / iters as f64)
                    .collect(),
            );
            times.iter().sum()
        })
    });
    Samples {
        names: names.to_vec(),
        per_sample,
    }
}
