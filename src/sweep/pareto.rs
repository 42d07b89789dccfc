//! The Pareto front of a sweep: the points no other point beats on both memory (fewer bytes) and
//! quality (higher ΔAUC). A pure function of (bytes, ΔAUC) pairs.
//!
//! Owns: the dominance rule and its tie-breaking. Must never: read files or know about runs.

/// Indices (into `points`, as `(bytes, delta_auc)`) of the Pareto front, by increasing bytes.
///
/// A point is on the front when every point with at most its bytes has a strictly lower ΔAUC.
/// Ties: of identical pairs only the first (lowest index) is kept; of equal ΔAUC the smaller
/// tables win. Points with a non-finite ΔAUC are never on the front (failed runs).
pub fn pareto_front(points: &[(u64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].1.is_finite())
        .collect();
    // Bytes ascending, then ΔAUC descending, then index: the first of each byte size is its best.
    order.sort_by(|&a, &b| {
        points[a]
            .0
            .cmp(&points[b].0)
            .then(points[b].1.total_cmp(&points[a].1))
            .then(a.cmp(&b))
    });
    let mut front = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for i in order {
        if points[i].1 > best {
            best = points[i].1;
            front.push(i);
        }
    }
    front
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominated_points_are_left_out() {
        let pts = [
            (100, -0.05),
            (200, -0.02),
            (150, -0.06), // more bytes than #0, worse: dominated
            (400, -0.01),
            (300, -0.03), // dominated by #1
            (50, -0.10),
        ];
        assert_eq!(pareto_front(&pts), vec![5, 0, 1, 3]);
    }

    #[test]
    fn ties_and_failures() {
        let pts = [
            (100, -0.02),
            (100, -0.02), // identical: first kept
            (100, -0.03), // same bytes, worse
            (200, -0.02), // same ΔAUC, more bytes
            (10, f64::NAN),
            (5, f64::INFINITY),
        ];
        assert_eq!(pareto_front(&pts), vec![0]);
        assert!(pareto_front(&[]).is_empty());
        assert_eq!(pareto_front(&[(7, 0.0)]), vec![0]);
    }

    #[test]
    fn front_is_monotone() {
        // A deterministic scatter: along the front bytes and ΔAUC both increase strictly, and no
        // point off the front beats a front point on both axes.
        let pts: Vec<(u64, f64)> = (0..200u64)
            .map(|i| {
                let z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                (z % 1000 + 1, ((z >> 10) % 997) as f64 / 997.0 - 0.5)
            })
            .collect();
        let f = pareto_front(&pts);
        for w in f.windows(2) {
            assert!(pts[w[0]].0 < pts[w[1]].0 && pts[w[0]].1 < pts[w[1]].1);
        }
        for (i, p) in pts.iter().enumerate() {
            if f.contains(&i) {
                continue;
            }
            assert!(
                f.iter().any(|&j| pts[j].0 <= p.0 && pts[j].1 >= p.1),
                "{i} {p:?} is not dominated"
            );
        }
    }
}
