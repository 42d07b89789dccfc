//! Where each panel goes: a wide layout for 120x40 and up, a compact one down to 80x24.
//!
//! Owns: the panel rectangles and the minimum size. Must never: draw.

use ratatui::layout::{Constraint, Layout, Rect};

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub knobs: Rect,
    pub memory: Rect,
    pub latency: Rect,
    pub auc: Rect,
    pub runs: Rect,
    pub collisions: Rect,
    pub status: Rect,
    pub footer: Rect,
    /// The right-hand column (AUC, Runs, Collisions; or the token inspector in their place).
    pub right: Rect,
    /// Everything above the status line (a zoomed panel's place).
    pub body: Rect,
    /// The compact layout (narrow panels show fewer columns).
    pub compact: bool,
}

/// The panels' rectangles, or `None` when the area is below `MIN_WIDTH` x `MIN_HEIGHT`.
pub fn areas(area: Rect) -> Option<Areas> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let compact = area.width < 110 || area.height < 34;
    let [body, status, footer] = area.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ]));
    let left_w = if compact { 33 } else { 42 };
    let [left, right] = body.layout(&Layout::horizontal([
        Constraint::Length(left_w),
        Constraint::Fill(1),
    ]));
    let (knobs_h, memory_h) = if compact { (11, 6) } else { (13, 11) };
    let [knobs, memory, latency] = left.layout(&Layout::vertical([
        Constraint::Length(knobs_h),
        Constraint::Length(memory_h),
        Constraint::Fill(1),
    ]));
    let (runs_h, coll_h) = if compact { (5, 5) } else { (8, 11) };
    let [auc, runs, collisions] = right.layout(&Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(runs_h),
        Constraint::Length(coll_h),
    ]));
    Some(Areas {
        knobs,
        memory,
        latency,
        auc,
        runs,
        collisions,
        status,
        footer,
        right,
        body,
        compact,
    })
}
