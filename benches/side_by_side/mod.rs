//! Ratios measured side by side: every id of a comparison runs in each criterion sample, one
//! after another in an order that rotates from sample to sample, and each target's ratio is
//! computed within the sample, then summarised over all samples (median and interquartile range).
//!
//! Criterion times each id in a stretch of seconds of its own, so on a machine whose neighbours
//! come and go (a shared VM), two ids can be measured under different loads and their ratio
//! moves by tens of per cent between runs. Here the ids of one sample run within milliseconds of
//! each other, so what the neighbours do falls on all of them alike and cancels in the ratio.
#![allow(dead_code)]

use std::cell::RefCell;
use std::time::Duration;

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;

/// One id of a comparison: runs `iters` of its operation and says how long they took.
pub type Run<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

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

/// Adds the criterion id `id` to `group`: each of its samples runs every one of `runs` for the
/// sample's `iters`, in an order rotated by one from the sample before; criterion is told the
/// sum. Returns every sample's times per operation once the group has run it (none if a filter
/// left it out).
pub fn bench<'a>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    runs: Vec<(&'static str, Run<'a>)>,
) -> Samples {
    let names: Vec<&'static str> = runs.iter().map(|(name, _)| *name).collect();
    let runs = RefCell::new(runs);
    let per_sample = RefCell::new(Vec::new());
    let mut rotation = 0;
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let mut runs = runs.borrow_mut();
            let count = runs.len();
            let mut times = vec![0.0; count];
            let mut total = Duration::ZERO;
            for step in 0..count {
                let at = (rotation + step) % count;
                let elapsed = (runs[at].1)(iters);
                times[at] = elapsed.as_secs_f64() * 1e9 / iters as f64;
                total += elapsed;
            }
            rotation += 1;
            per_sample.borrow_mut().push(times);
            total
        })
    });
    Samples {
        names,
        per_sample: per_sample.into_inner(),
    }
}
