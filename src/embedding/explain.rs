//! What one token's lookup reads, for the token inspector: the parameter rows the fused kernel
//! reads for it (MEM-REC's K token rows and kw weights, the hashing trick's one row, QR's
//! quotient and remainder rows, ROBE-Z's block offsets, the uncompressed row), their current
//! values, the vector the token gets, and which other loaded values read the same rows.
//!
//! Owns: the row identities (`RowRef`), the per-token report (`TokenLookup`) and the brute-force
//! sharing count over a set of keys. Must never: compute a row by a function of its own (every
//! method answers through `Representation::lookup_rows`, built on the very functions its kernel
//! calls, so the inspector cannot disagree with training), or change a parameter.

use serde::Serialize;

use super::Representation;
use super::hash::{MAX_SLOTS, MemrecHasher};
use crate::config::Layout;

/// What kind of parameter a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    /// One of MEM-REC's K rows of the shared token table (`d` floats).
    Token,
    /// One of MEM-REC's kw floats of the shared weight table.
    Weight,
    /// The one row a value reads from its feature's table (uncompressed, hashing trick, or a QR
    /// feature small enough to keep a full table).
    Row,
    /// The uncompressed table's out-of-vocabulary row: every value not in the vocabulary reads it.
    OutOfVocabulary,
    /// QR's quotient row (`x div c`).
    Quotient,
    /// QR's remainder row (`x mod c`).
    Remainder,
    /// The start of one `Z`-float block in ROBE-Z's circular array.
    Block,
}

impl RowKind {
    /// Whether the row belongs to a value's token signature (everything but MEM-REC's weights).
    pub fn is_token_part(self) -> bool {
        self != RowKind::Weight
    }
}

/// One parameter row, named so that two tokens read the same parameters exactly when their
/// `RowRef`s are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RowRef {
    pub kind: RowKind,
    /// The feature whose own table holds the row; `None` for a table all features share.
    pub feature: Option<u8>,
    /// The row's index in that table (ROBE-Z: the block's first float in the array).
    pub row: u64,
}

/// One row a token reads, with what it holds now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowUse {
    pub at: RowRef,
    /// The row's floats (`d`; a weight: 1; a ROBE-Z block: `Z`).
    pub values: Vec<f32>,
}

/// A token's lookup as the representation computes it now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenLookup {
    /// The rows in the order the kernel reads them.
    pub rows: Vec<RowUse>,
    /// The vector the token gets (bundled MEM-REC: this value's own `a(x) v(x)`; the sample's
    /// vector sums the rows and weights of all 26 features before scaling).
    pub vector: Vec<f32>,
    /// MEM-REC's scale `a(x)`, the sum of the token's weights (`None` without a weight table).
    pub scale: Option<f32>,
    /// How `vector` is made from the rows, in symbols.
    pub formula: String,
}

impl TokenLookup {
    /// A lookup that reads one whole row, `table[row * dim..][..dim]`, and returns it as it is
    /// (the uncompressed gather and the hashing trick).
    pub fn one_row(at: RowRef, table: &[f32], row: usize, dim: usize, formula: String) -> Self {
        let values = table[row * dim..][..dim].to_vec();
        TokenLookup {
            rows: vec![RowUse {
                at,
                values: values.clone(),
            }],
            vector: values,
            scale: None,
            formula,
        }
    }
}

/// Who else reads one of a token's rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowSharing {
    pub at: RowRef,
    /// Other values (among the keys looked at) that read this row.
    pub others: u64,
    /// The first few of them (token keys, in key order).
    pub first: Vec<u64>,
}

/// Who else reads a token's rows, over a set of loaded values.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Sharing {
    /// One entry per distinct row of the token, in the order first read.
    pub rows: Vec<RowSharing>,
    /// Other values with the same token signature (all non-weight rows, as a multiset).
    pub same_token_rows: u64,
    /// Other values with the same whole signature (token rows and weight rows).
    pub same_signature: u64,
    /// The first few values with the same whole signature.
    pub first_same: Vec<u64>,
    /// Distinct values looked at (the token itself excluded).
    pub looked_at: u64,
}

/// For `key`, which of the distinct `loaded` keys (duplicates and `key` itself are skipped; any
/// order) read each of its rows, and which read all of them: a brute-force pass over every key,
/// each through `rep.lookup_rows`. `first` caps the examples kept per row.
pub fn sharing(rep: &dyn Representation, key: u64, loaded: &[u64], first: usize) -> Sharing {
    let mut mine = Vec::with_capacity(MAX_SLOTS);
    rep.lookup_rows(key, &mut mine);
    let mut distinct_rows: Vec<RowRef> = Vec::new();
    for r in &mine {
        if !distinct_rows.contains(r) {
            distinct_rows.push(*r);
        }
    }
    let signature = |rows: &[RowRef], token_only: bool| {
        let mut s: Vec<RowRef> = rows
            .iter()
            .copied()
            .filter(|r| !token_only || r.kind.is_token_part())
            .collect();
        s.sort_unstable();
        s
    };
    let (my_tok, my_all) = (signature(&mine, true), signature(&mine, false));
    let mut out = Sharing {
        rows: distinct_rows
            .iter()
            .map(|&at| RowSharing {
                at,
                others: 0,
                first: Vec::new(),
            })
            .collect(),
        ..Sharing::default()
    };
    let mut keys: Vec<u64> = loaded.iter().copied().filter(|&k| k != key).collect();
    keys.sort_unstable();
    keys.dedup();
    out.looked_at = keys.len() as u64;
    let mut theirs = Vec::with_capacity(MAX_SLOTS);
    for &other in &keys {
        theirs.clear();
        rep.lookup_rows(other, &mut theirs);
        for rs in &mut out.rows {
            if theirs.contains(&rs.at) {
                rs.others += 1;
                if rs.first.len() < first {
                    rs.first.push(other);
                }
            }
        }
        if !mine.is_empty() && signature(&theirs, true) == my_tok {
            out.same_token_rows += 1;
            if signature(&theirs, false) == my_all {
                out.same_signature += 1;
                if out.first_same.len() < first {
                    out.first_same.push(other);
                }
            }
        }
    }
    out
}

/// MEM-REC's rows of a key: `h.indices`, the function the fused kernel's block hashing is
/// tested bit-identical to (K token rows, then kw weight rows).
pub(super) fn memrec_rows(h: &MemrecHasher, key: u64, out: &mut Vec<RowRef>) {
    let mut slots = [0u32; MAX_SLOTS];
    h.indices(key, &mut slots);
    for (s, &r) in slots[..h.k + h.kw].iter().enumerate() {
        out.push(RowRef {
            kind: if s < h.k {
                RowKind::Token
            } else {
                RowKind::Weight
            },
            feature: None,
            row: r as u64,
        });
    }
}

/// MEM-REC's tables as the inspector reads them.
pub(super) struct MemrecTables<'a> {
    pub hasher: &'a MemrecHasher,
    pub layout: Layout,
    pub dim: usize,
    /// `token_rows x dim`, row-major.
    pub token: &'a [f32],
    pub weight: &'a [f32],
}

/// MEM-REC's lookup of a key: its rows' values, `v = sum_k M[h_k]` in slot order, `a = sum_i
/// w[g_i]` in slot order and `a v` (or `v` when kw = 0), as the per-feature kernel computes them.
pub(super) fn memrec_explain(m: &MemrecTables, key: u64) -> TokenLookup {
    let (d, tok, w) = (m.dim, m.token, m.weight);
    let mut at = Vec::new();
    memrec_rows(m.hasher, key, &mut at);
    let mut v = vec![0f32; d];
    let mut a = 0f32;
    let rows: Vec<RowUse> = at
        .into_iter()
        .map(|r| {
            let values = match r.kind {
                RowKind::Weight => {
                    let x = w[r.row as usize];
                    a += x;
                    vec![x]
                }
                _ => {
                    let row = &tok[r.row as usize * d..][..d];
                    for (x, y) in v.iter_mut().zip(row) {
                        *x += *y;
                    }
                    row.to_vec()
                }
            };
            RowUse { at: r, values }
        })
        .collect();
    let h = m.hasher;
    let sum: Vec<String> = (1..=h.k).map(|i| format!("M[t{i}]")).collect();
    let sum = sum.join(" + ");
    let (vector, scale, mut formula) = if h.kw == 0 {
        (v, None, format!("v = {sum}  (Bloom: no weights)"))
    } else {
        let ws: Vec<String> = (1..=h.kw).map(|i| format!("w[g{i}]")).collect();
        (
            v.iter().map(|x| a * x).collect(),
            Some(a),
            format!("a · v,  v = {sum},  a = {}", ws.join(" + ")),
        )
    };
    if m.layout == Layout::Bundled {
        formula.push_str("  (bundled: the sample sums v and a over its 26 values first)");
    }
    TokenLookup {
        rows,
        vector,
        scale,
        formula,
    }
}

#[cfg(test)]
mod tests;
