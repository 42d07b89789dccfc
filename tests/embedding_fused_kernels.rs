//! The fused forward kernels of the hashing trick, QR and ROBE-Z against their plain reference
//! loops (`reference_forward`), bit for bit: random keys (any 64-bit value, and real token keys),
//! batches that are not a whole number of 8-sample blocks, every dim with a specialised path and
//! some without, 1 and 2 threads, inference and training forwards. And the latency floor's plans
//! (`embedding::floor`): in range, and for a plain row copy the same output as the kernel.

use memrec_tui::config::Layout;
use memrec_tui::data::{NUM_CAT, token_key};
use memrec_tui::embedding::floor;
use memrec_tui::embedding::{HashingTrick, MemRec, Qr, Representation, RobeZ};
use memrec_tui::util::rng::SplitMix64;
use proptest::prelude::*;

/// Dims with a compile-time row length (4..128) and without (1, 3, 5, 17, 24).
const DIMS: [usize; 12] = [1, 3, 4, 5, 8, 16, 17, 24, 32, 64, 128, 2];

fn keys(samples: usize, seed: u64, raw: bool) -> Vec<u64> {
    let mut rng = SplitMix64(seed);
    (0..samples * NUM_CAT)
        .map(|t| {
            if raw {
                rng.next_u64()
            } else {
                let v = rng.next_u64() % 3000;
                token_key(t % NUM_CAT, (v < 2900).then_some(v as u32))
            }
        })
        .collect()
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(f)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The inference and training forwards of `rep` on 1 and 2 threads equal `reference`, bit for
/// bit (outputs start filled with garbage, so every float must be written).
fn check<R: Representation>(mut rep: R, keys: &[u64], reference: impl Fn(&R, &[u64], &mut [f32])) {
    let n = keys.len() / NUM_CAT * rep.outputs_per_sample() * rep.dim();
    let mut want = vec![f32::NAN; n];
    reference(&rep, keys, &mut want);
    assert!(
        want.iter().all(|x| !x.is_nan()),
        "the reference wrote every float"
    );
    for threads in [1, 2] {
        let mut got = vec![7.5f32; n];
        in_pool(threads, || rep.forward_eval(keys, &mut got));
        assert_eq!(
            bits(&got),
            bits(&want),
            "{} eval, {threads} threads",
            rep.kind()
        );
        let mut got = vec![-3.0f32; n];
        in_pool(threads, || rep.forward_train(keys, &mut got));
        assert_eq!(
            bits(&got),
            bits(&want),
            "{} train, {threads} threads",
            rep.kind()
        );
    }
}

/// Cardinalities from 1 to a few thousand, some below and some above a QR `c` or `hash_rows`.
fn cardinalities(seed: u64) -> Vec<u64> {
    let mut rng = SplitMix64(seed);
    (0..NUM_CAT)
        .map(|_| 1 + rng.next_u64() % [3, 40, 700, 5000][(rng.next_u64() % 4) as usize])
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn hashing_kernel_equals_its_reference(
        dim_i in 0..DIMS.len(),
        samples in 1usize..40,
        seed in any::<u64>(),
        rows in 1u64..600,
        raw in any::<bool>(),
    ) {
        let h = HashingTrick::new(DIMS[dim_i], &cardinalities(seed), rows, seed);
        check(h, &keys(samples, seed ^ 1, raw), HashingTrick::reference_forward);
    }

    #[test]
    fn qr_kernel_equals_its_reference(
        dim_i in 0..DIMS.len(),
        samples in 1usize..40,
        seed in any::<u64>(),
        c in 2u64..300,
        raw in any::<bool>(),
    ) {
        let mut q = Qr::new(DIMS[dim_i], &cardinalities(seed), c, seed);
        // Remainder rows start at 1: make them differ so the product is checked.
        let mut rng = SplitMix64(seed ^ 2);
        for x in q.table_mut() {
            *x = rng.uniform(2.0);
        }
        check(q, &keys(samples, seed ^ 1, raw), Qr::reference_forward);
    }

    #[test]
    fn robe_kernel_equals_its_reference(
        dim_i in 0..DIMS.len(),
        z_pick in any::<u64>(),
        samples in 1usize..40,
        seed in any::<u64>(),
        extra in 0u64..3000,
        raw in any::<bool>(),
    ) {
        // Z: any divisor of the dim; a small array so blocks often wrap around its end.
        let dim = DIMS[dim_i];
        let divisors: Vec<usize> = (1..=dim).filter(|z| dim.is_multiple_of(*z)).collect();
        let z = divisors[(z_pick % divisors.len() as u64) as usize];
        let r = RobeZ::new(dim, z, z as u64 + extra, seed);
        check(r, &keys(samples, seed ^ 1, raw), RobeZ::reference_forward);
    }
}

#[test]
fn qr_kernel_handles_an_index_range_of_2_pow_32() {
    // V = 2^32 is the reduction's identity case, and a full-table feature beside it.
    let mut cards = vec![10u64; NUM_CAT];
    cards[0] = 1 << 32;
    let q = Qr::new(4, &cards, 1 << 16, 3);
    check(q, &keys(9, 5, true), Qr::reference_forward);
}

#[test]
fn floor_plans_read_what_the_kernels_read() {
    let ks = keys(37, 11, false);
    let cards = cardinalities(12);
    // The hashing trick's plan is exactly its lookup: the floor's output is the kernel's.
    for dim in [16, 5] {
        let h = HashingTrick::new(dim, &cards, 300, 1);
        let plan = h.read_plan(&ks).expect("a plan");
        assert_eq!(plan.sources(), ks.len());
        assert_eq!(plan.bytes_per_source(), 4 * dim);
        let (mut a, mut b) = (vec![0f32; ks.len() * dim], vec![1f32; ks.len() * dim]);
        floor::gather(&plan, &mut a);
        h.forward_eval(&ks, &mut b);
        assert_eq!(bits(&a), bits(&b), "dim {dim}");
    }
    // ROBE-Z with an array large enough that no block of these keys wraps: the same.
    let r = RobeZ::new(16, 4, 1 << 20, 2);
    let plan = r.read_plan(&ks).expect("a plan");
    assert_eq!(plan.bytes_per_source(), 4 * 16);
    let (mut a, mut b) = (vec![0f32; ks.len() * 16], vec![1f32; ks.len() * 16]);
    floor::gather(&plan, &mut a);
    r.forward_eval(&ks, &mut b);
    assert_eq!(bits(&a), bits(&b));
    // QR reads two rows per token; MEM-REC K rows and kw weights per source.
    let q = Qr::new(16, &cards, 16, 3);
    let plan = q.read_plan(&ks).expect("a plan");
    assert_eq!(
        (plan.sources(), plan.bytes_per_source()),
        (ks.len(), 2 * 64)
    );
    for (layout, per) in [(Layout::Bundled, NUM_CAT), (Layout::PerFeature, 1)] {
        let m = MemRec::new(layout, 16, 4, 1000, 1, 50, 3);
        let plan = m.read_plan(&ks).expect("a plan");
        assert_eq!(plan.sources(), ks.len() / per);
        assert_eq!(plan.bytes_per_source(), per * (4 * 64 + 4));
        let mut out = vec![0f32; plan.sources() * 16];
        floor::gather(&plan, &mut out);
        assert!(out.iter().all(|x| x.is_finite()));
    }
}
