//! The inspector's rows are the fused kernels' rows, its vectors their outputs, and its sharing
//! counts a brute-force count over the loaded keys.

use super::*;
use crate::config::Layout;
use crate::data::{NUM_CAT, key_feature, token_key};
use crate::embedding::hash::MAX_SLOTS;
use crate::embedding::{HashingTrick, MemRec, Qr, RobeZ, Uncompressed};
use crate::util::rng::SplitMix64;

/// `samples` whole samples of keys; values drawn from `vocab` per feature (small vocabularies
/// make rows shared), some missing.
fn keys(samples: usize, vocab: u64, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix64(seed);
    (0..samples * NUM_CAT)
        .map(|t| {
            let v = rng.next_u64() % (vocab + 1);
            token_key(
                t % NUM_CAT,
                (v < vocab).then_some((v as u32).wrapping_mul(2_654_435_761)),
            )
        })
        .collect()
}

fn rows_of(rep: &dyn Representation, key: u64) -> Vec<RowRef> {
    let mut out = Vec::new();
    rep.lookup_rows(key, &mut out);
    out
}

fn train_forward(rep: &mut dyn Representation, keys: &[u64]) {
    let mut out = vec![0f32; keys.len() / NUM_CAT * rep.outputs_per_sample() * rep.dim()];
    rep.forward_train(keys, &mut out);
}

#[test]
fn memrec_rows_are_the_fused_kernels_and_the_hashers() {
    // 67 samples: more than one block of 8 and one rayon chunk, and a partial last block.
    let ks = keys(67, 5000, 1);
    for (layout, k, kw) in [
        (Layout::Bundled, 2, 1),
        (Layout::PerFeature, 3, 2),
        (Layout::PerFeature, 1, 0),
        (Layout::Bundled, 4, 0),
    ] {
        let mut m = MemRec::new(layout, 16, k, 4096, kw, 512, 9);
        train_forward(&mut m, &ks);
        let (tok, w) = m.last_rows();
        let h = m.hasher().clone();
        let mut slots = [0u32; MAX_SLOTS];
        for (t, &key) in ks.iter().enumerate() {
            let (s, j) = (t / NUM_CAT, t % NUM_CAT);
            h.indices(key, &mut slots);
            let kernel_tok: Vec<u32> = (0..k)
                .map(|i| match layout {
                    Layout::PerFeature => tok[t * k + i],
                    Layout::Bundled => tok[s * NUM_CAT * k + i * NUM_CAT + j],
                })
                .collect();
            let kernel_w: Vec<u32> = (0..kw)
                .map(|i| match layout {
                    Layout::PerFeature => w[t * kw + i],
                    Layout::Bundled => w[s * NUM_CAT * kw + i * NUM_CAT + j],
                })
                .collect();
            let mine = rows_of(&m, key);
            let want: Vec<RowRef> = kernel_tok
                .iter()
                .map(|&r| (RowKind::Token, r))
                .chain(kernel_w.iter().map(|&r| (RowKind::Weight, r)))
                .map(|(kind, r)| RowRef {
                    kind,
                    feature: None,
                    row: r as u64,
                })
                .collect();
            assert_eq!(mine, want, "{layout:?} k={k} kw={kw} token {t}");
            assert_eq!(kernel_tok[..], slots[..k], "kernel vs hasher");
            assert_eq!(kernel_w[..], slots[k..k + kw], "kernel vs hasher");
        }
    }
}

#[test]
fn per_feature_methods_rows_are_their_kernels() {
    let ks = keys(41, 3000, 2);
    let cards: Vec<u64> = (0..NUM_CAT as u64).map(|j| 5 + j * 997).collect();

    let mut h = HashingTrick::new(8, &cards, 256, 3);
    train_forward(&mut h, &ks);
    let mut base = [0u64; NUM_CAT];
    for j in 1..NUM_CAT {
        base[j] = base[j - 1] + h.sizes()[j - 1];
    }
    for (t, &key) in ks.iter().enumerate() {
        let j = t % NUM_CAT;
        let kernel = h.last_rows()[t];
        assert_eq!(kernel, h.row(j, key), "kernel vs hasher, token {t}");
        let r = rows_of(&h, key);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].kind, r[0].feature), (RowKind::Row, Some(j as u8)));
        assert_eq!(base[j] + r[0].row, kernel as u64, "token {t}");
    }

    let mut q = Qr::new(8, &cards, 64, 4);
    train_forward(&mut q, &ks);
    // Stacked rows: feature by feature, a full table or quotient rows then remainder rows.
    let mut first = Vec::new();
    let mut at = 0u64;
    for t in q.tables() {
        first.push(at);
        at += t.rows;
    }
    let mut table_of = Vec::new();
    for (i, t) in q.tables().iter().enumerate() {
        let f: usize = t.name[1..].split(' ').next().unwrap().parse().unwrap();
        table_of.push((f - 1, t.name.ends_with("remainder"), first[i]));
    }
    let (occ_q, occ_r) = q.last_rows();
    for (t, &key) in ks.iter().enumerate() {
        let j = t % NUM_CAT;
        assert_eq!((occ_q[t], occ_r[t]), q.rows_of(j, key), "kernel vs hasher");
        let base = |rem: bool| {
            table_of
                .iter()
                .find(|&&(f, r, _)| f == j && r == rem)
                .map(|x| x.2)
                .unwrap()
        };
        let r = rows_of(&q, key);
        if occ_r[t] == u32::MAX {
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].kind, RowKind::Row);
            assert_eq!(base(false) + r[0].row, occ_q[t] as u64);
        } else {
            assert_eq!(
                r.iter().map(|x| x.kind).collect::<Vec<_>>(),
                [RowKind::Quotient, RowKind::Remainder]
            );
            assert_eq!(base(false) + r[0].row, occ_q[t] as u64);
            assert_eq!(base(true) + r[1].row, occ_r[t] as u64);
        }
    }

    let mut robe = RobeZ::new(16, 4, 1000, 5);
    train_forward(&mut robe, &ks);
    let pos = robe.last_positions();
    let mut offs = [0u32; 16];
    for (t, &key) in ks.iter().enumerate() {
        robe.offsets(key, &mut offs);
        let r = rows_of(&robe, key);
        assert_eq!(r.len(), 4);
        for (b, rr) in r.iter().enumerate() {
            assert_eq!(rr.kind, RowKind::Block);
            assert_eq!(rr.row, offs[b] as u64, "hasher");
            assert_eq!(
                rr.row,
                pos[t * 16 + b * 4] as u64,
                "kernel, token {t} block {b}"
            );
        }
    }
}

/// The vector the inspector shows is, bit for bit, what the forward pass gives the token.
#[test]
fn explained_vectors_are_the_forward_outputs() {
    let ks = keys(19, 200, 6);
    let cards: Vec<u64> = (0..NUM_CAT as u64).map(|j| 3 + j * 131).collect();
    let mut reps: Vec<Box<dyn Representation>> = vec![
        Box::new(MemRec::new(Layout::PerFeature, 16, 2, 1024, 1, 64, 7)),
        Box::new(MemRec::new(Layout::PerFeature, 8, 3, 512, 0, 1, 7)),
        Box::new(HashingTrick::new(8, &cards, 128, 7)),
        Box::new(Qr::new(8, &cards, 16, 7)),
        Box::new(RobeZ::new(16, 4, 777, 7)),
        Box::new(Uncompressed::new(8, &cards, 7)),
    ];
    // Unseen by the uncompressed tables: out-of-vocabulary.
    let unseen = keys(3, 1 << 30, 99);
    for rep in &mut reps {
        train_forward(rep.as_mut(), &ks);
        let d = rep.dim();
        for batch in [&ks, &unseen] {
            let mut out = vec![0f32; batch.len() * d];
            rep.forward_eval(batch, &mut out);
            for (t, &key) in batch.iter().enumerate() {
                let e = rep.explain(key).expect("every method explains");
                assert_eq!(e.vector, out[t * d..][..d], "{} token {t}", rep.kind());
                let read: usize = e.rows.iter().map(|r| r.values.len()).sum();
                assert!(read >= d.min(e.rows.len()), "{}", rep.kind());
            }
        }
    }
}

#[test]
fn sharing_equals_a_brute_force_count() {
    // Small tables: many rows shared, some whole signatures too.
    let m = MemRec::new(Layout::Bundled, 4, 2, 64, 1, 8, 11);
    let loaded = keys(80, 400, 12);
    let h = m.hasher().clone();
    let mut distinct = loaded.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let sig = |key: u64| {
        let mut s = [0u32; MAX_SLOTS];
        h.indices(key, &mut s);
        let (mut t, mut w) = (s[..2].to_vec(), s[2..3].to_vec());
        t.sort_unstable();
        w.sort_unstable();
        (t, w)
    };
    let mut checked_shared_sig = false;
    for &key in distinct.iter().step_by(37) {
        let got = sharing(&m, key, &loaded, 3);
        let (mt, mw) = sig(key);
        let others: Vec<u64> = distinct.iter().copied().filter(|&o| o != key).collect();
        assert_eq!(got.looked_at, others.len() as u64);
        for rs in &got.rows {
            let want: Vec<u64> = others
                .iter()
                .copied()
                .filter(|&o| {
                    let (t, w) = sig(o);
                    match rs.at.kind {
                        RowKind::Token => t.contains(&(rs.at.row as u32)),
                        _ => w.contains(&(rs.at.row as u32)),
                    }
                })
                .collect();
            assert_eq!(rs.others, want.len() as u64, "{key:#x} {:?}", rs.at);
            assert_eq!(rs.first[..], want[..want.len().min(3)]);
        }
        let same_tok = others.iter().filter(|&&o| sig(o).0 == mt).count() as u64;
        let same_all = others
            .iter()
            .filter(|&&o| sig(o) == (mt.clone(), mw.clone()))
            .count() as u64;
        assert_eq!(got.same_token_rows, same_tok);
        assert_eq!(got.same_signature, same_all);
        checked_shared_sig |= same_all > 0;
    }
    assert!(
        checked_shared_sig,
        "the case should include a shared signature"
    );

    // The hashing trick: one row per value in its feature's own table.
    let cards = vec![1000u64; NUM_CAT];
    let ht = HashingTrick::new(4, &cards, 16, 13);
    for &key in distinct.iter().step_by(53) {
        let got = sharing(&ht, key, &loaded, 2);
        let j = key_feature(key);
        let want = distinct
            .iter()
            .filter(|&&o| o != key && key_feature(o) == j && ht.row(j, o) == ht.row(j, key))
            .count() as u64;
        assert_eq!(got.rows.len(), 1);
        assert_eq!(got.rows[0].others, want);
        assert_eq!(got.same_signature, want);
    }
}

/// `row_updates` counts one update per distinct row a batch used (the sparse optimizer's), in
/// every table of every method.
#[test]
fn row_updates_count_the_distinct_rows_each_batch_updates() {
    use crate::embedding::SparseOptimizer;
    let opt = SparseOptimizer::Sgd { lr: 0.01 };
    let ks = keys(30, 500, 21);
    let cards = vec![100u64; NUM_CAT];
    let mut m = MemRec::new(Layout::PerFeature, 4, 2, 128, 1, 16, 3);
    let mut h = HashingTrick::new(4, &cards, 32, 3);
    for step in 1..=2u64 {
        let mut out = vec![0f32; ks.len() * 4];
        m.forward_train(&ks, &mut out);
        m.backward_update(&ks, &out, opt);
        h.forward_train(&ks, &mut out);
        h.backward_update(&ks, &out, opt);
        let (mut tok, mut w) = (m.last_rows().0.to_vec(), m.last_rows().1.to_vec());
        tok.sort_unstable();
        tok.dedup();
        w.sort_unstable();
        w.dedup();
        assert_eq!(m.row_updates(), step * (tok.len() + w.len()) as u64);
        let mut rows = h.last_rows().to_vec();
        rows.sort_unstable();
        rows.dedup();
        assert_eq!(h.row_updates(), step * rows.len() as u64);
    }
}
