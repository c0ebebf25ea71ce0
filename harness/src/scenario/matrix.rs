//! The run matrix: kernels x variants x clocksources x repetitions, with
//! deterministic run ids, a run order shuffled from the seed (so a slow drift
//! of the host does not line up with one clocksource), and deterministic
//! shards for spreading a matrix over machines.

use serde::{Deserialize, Serialize};

use super::{Scenario, Variant};
use crate::clocksource::Clocksource;
use crate::faults::expand::splitmix64;

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRun {
    /// `<scenario>-<clocksource>[.<kernel>][.<variant>][.r<n>]`: a dimension
    /// appears only when the scenario has more than one value for it.
    pub id: String,
    pub kernel: String,
    pub variant: Variant,
    pub clocksource: Clocksource,
    pub repetition: u32,
}

/// Every run, in canonical order (kernel, variant, clocksource, repetition).
pub fn expand(s: &Scenario) -> Vec<MatrixRun> {
    let variants = s.effective_variants();
    let mut runs = Vec::new();
    for kernel in &s.guest.kernels {
        for variant in &variants {
            for &clocksource in &s.clocksources {
                for repetition in 0..s.repetitions {
                    let mut id = format!("{}-{}", s.name, clocksource.kernel_name());
                    if s.guest.kernels.len() > 1 {
                        id.push('.');
                        id.push_str(&kernel_slug(kernel));
                    }
                    if variants.len() > 1 {
                        id.push('.');
                        id.push_str(&variant.name);
                    }
                    if s.repetitions > 1 {
                        id.push_str(&format!(".r{repetition}"));
                    }
                    runs.push(MatrixRun { id, kernel: kernel.clone(), variant: variant.clone(), clocksource, repetition });
                }
            }
        }
    }
    runs
}

/// A kernel name fit for a run id: a cached name as is, a path by its file name.
pub fn kernel_slug(kernel: &str) -> String {
    let base = kernel.rsplit('/').next().unwrap_or(kernel);
    base.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}

/// `runs` shuffled with a Fisher-Yates walk driven by SplitMix64 from `seed`.
pub fn shuffled(mut runs: Vec<MatrixRun>, seed: u64) -> Vec<MatrixRun> {
    let mut state = seed;
    for i in (1..runs.len()).rev() {
        state = splitmix64(state);
        let j = (state % (i as u64 + 1)) as usize;
        runs.swap(i, j);
    }
    runs
}

/// `--shard K/N`: the K-th of N parts (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("{s:?} is not K/N with 1 <= K <= N (e.g. 2/4)");
        let (k, n) = s.split_once('/').ok_or_else(err)?;
        let (index, count): (u32, u32) = (k.trim().parse().map_err(|_| err())?, n.trim().parse().map_err(|_| err())?);
        if index == 0 || count == 0 || index > count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}

/// The runs of one shard: every N-th run of the canonical order, starting
/// at the K-th. Every run lands in exactly one shard.
pub fn shard(runs: &[MatrixRun], shard: Shard) -> Vec<MatrixRun> {
    runs.iter().enumerate().filter(|(i, _)| *i as u32 % shard.count == shard.index - 1).map(|(_, r)| r.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    fn scenario(extra: &str) -> Scenario {
        let text = format!("name = \"m\"\ndescription = \"d\"\nclocksources = [\"tsc\", \"hpet\"]\n{extra}");
        parse(&text, "test").unwrap().scenario
    }

    #[test]
    fn ids_name_only_the_dimensions_that_vary() {
        let ids: Vec<String> = expand(&scenario("")).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, vec!["m-tsc", "m-hpet"]);
        let s = scenario("repetitions = 2\n[guest]\nkernels = [\"debian-bullseye-cloud-amd64\", \"/boot/vmlinuz-6.1\"]\n[[variants]]\nname = \"default\"\n[[variants]]\nname = \"tsc-reliable\"\nkernel_params = [\"tsc=reliable\"]\n");
        let runs = expand(&s);
        assert_eq!(runs.len(), 2 * 2 * 2 * 2);
        assert_eq!(runs[0].id, "m-tsc.debian-bullseye-cloud-amd64.default.r0");
        assert_eq!(runs[15].id, "m-hpet.vmlinuz-6.1.tsc-reliable.r1");
        let mut unique: Vec<&String> = runs.iter().map(|r| &r.id).collect();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), runs.len(), "ids are unique");
    }

    #[test]
    fn the_order_is_a_seeded_permutation() {
        let s = scenario("repetitions = 5\n");
        let runs = expand(&s);
        let a = shuffled(runs.clone(), 7);
        assert_eq!(a, shuffled(runs.clone(), 7));
        assert_ne!(a, shuffled(runs.clone(), 8));
        let mut sorted = a.clone();
        sorted.sort_by(|x, y| x.id.cmp(&y.id));
        let mut canonical = runs.clone();
        canonical.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(sorted, canonical, "a permutation: nothing lost or doubled");
    }

    #[test]
    fn shards_partition_the_matrix() {
        let runs = expand(&scenario("repetitions = 5\n"));
        let n = 3;
        let mut all: Vec<MatrixRun> = (1..=n).flat_map(|k| shard(&runs, Shard { index: k, count: n })).collect();
        all.sort_by(|x, y| x.id.cmp(&y.id));
        let mut expected = runs.clone();
        expected.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(all, expected);
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("K/N"), "{bad}");
        }
    }
}
