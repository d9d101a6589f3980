//! The state hash summed across threads. The per-move change ([`LtHash::of_move`]) and the
//! elements live in `mf-format`; this module only adds them up in parallel, which is correct
//! in any order because the sum is commutative (one accumulator per rayon job).

use mf_format::LtHash;
use rayon::prelude::*;
use std::borrow::Borrow;

/// The sum of many state-hash elements or deltas, in parallel.
pub fn par_sum<E: Borrow<LtHash> + Send>(elements: impl ParallelIterator<Item = E>) -> Box<LtHash> {
    elements
        .fold(
            || Box::new(LtHash::IDENTITY),
            |mut a, e| {
                a.add(e.borrow());
                a
            },
        )
        .reduce(
            || Box::new(LtHash::IDENTITY),
            |mut a, b| {
                a.add(&b);
                a
            },
        )
}
