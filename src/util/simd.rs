//! Run-time choice of instruction set: which vector extensions this CPU has, and `dispatch!`,
//! which compiles one body several times (once per listed feature set, once plainly) and runs the
//! widest copy the CPU supports.
//!
//! Owns: the feature checks (std caches them after the first call: each is a load and a bit
//! test) and the `#[target_feature]` trampolines every kernel used to write by hand. Must never:
//! change what a body computes. A trampoline only lets the compiler use wider registers for the
//! same operations in the same order; a body that must round the same way on every path keeps
//! to elementwise IEEE operations (no fused multiply-add the portable copy would not do).
//! Hand-written intrinsics (`model::gemm`'s AVX-512 kernels, the AVX-512 hashing) check the
//! features here and are called directly; they are not trampolines.

/// Whether the CPU has AVX-512F (the foundation: 512-bit registers, masks, FMA).
#[inline]
pub fn avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the CPU has AVX-512DQ (64-bit multiplies and conversions, used by the hashing).
#[inline]
pub fn avx512dq() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512dq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the CPU has AVX2.
#[inline]
pub fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Evaluate a body compiled for the first listed feature set the CPU has, or plainly (`_`).
///
/// ```ignore
/// pub fn sgd(p: &mut [f32], g: &[f32], lr: f32) {
///     simd::dispatch!(fn(p: &mut [f32], g: &[f32], lr: f32) {
///         ["avx512f"] => sgd_body(p, g, lr),
///         _ => sgd_body(p, g, lr),
///     })
/// }
/// ```
///
/// Each arm's body becomes a nested function with those parameters (the caller's variables of
/// the same names are passed in; use `let me = self;` for a method) and `#[target_feature]`s,
/// called when `is_x86_feature_detected!` says the CPU has every feature of the arm. A body that
/// calls `#[inline(always)]` functions gets them compiled inside the trampoline, so their loops
/// vectorise at that width. Const generics of the caller are redeclared
/// (`fn<const D: usize>(...)`) and passed through. Off x86-64 only the `_` arm remains.
macro_rules! dispatch {
    (
        fn $(<$(const $g:ident: $gt:ty),+ $(,)?>)? ($($arg:ident: $ty:ty),* $(,)?)
            $(-> $ret:ty)? { $($arms:tt)* }
    ) => {
        $crate::util::simd::dispatch!(@arm [$(<$(const $g: $gt),+>)?] [$(::<$($g),+>)?]
            ($($arg: $ty),*) [$(-> $ret)?] $($arms)*)
    };
    (@arm [$($decl:tt)*] [$($turbo:tt)*] ($($arg:ident: $ty:ty),*) [$($ret:tt)*]
        [$($f:tt),+] => $fast:expr, $($rest:tt)*) => {
        match () {
            #[cfg(target_arch = "x86_64")]
            () if $(std::arch::is_x86_feature_detected!($f))&&+ => {
                $(#[target_feature(enable = $f)])+
                fn fast $($decl)* ($($arg: $ty),*) $($ret)* {
                    $fast
                }
                // SAFETY: the CPU has every feature `fast` is compiled for (checked just above).
                unsafe { fast $($turbo)* ($($arg),*) }
            }
            () => $crate::util::simd::dispatch!(@arm [$($decl)*] [$($turbo)*] ($($arg: $ty),*)
                [$($ret)*] $($rest)*),
        }
    };
    (@arm $decl:tt $turbo:tt $params:tt $ret:tt _ => $body:expr $(,)?) => {
        $body
    };
}
pub(crate) use dispatch;

#[cfg(test)]
mod tests {
    use super::*;

    /// Which arm ran, and that the arguments and const generics reach it.
    fn which<const K: usize>(x: &mut [u32], add: u32) -> usize {
        dispatch!(fn<const K: usize>(x: &mut [u32], add: u32) -> usize {
            ["avx512f", "avx512dq"] => {
                x.iter_mut().for_each(|v| *v += add);
                K + 2
            },
            ["avx2"] => {
                x.iter_mut().for_each(|v| *v += 2 * add);
                K + 1
            },
            _ => {
                x.iter_mut().for_each(|v| *v += 3 * add);
                K
            },
        })
    }

    #[test]
    fn dispatch_runs_the_first_arm_the_cpu_supports() {
        let mut x = [1u32, 2, 3];
        let arm = which::<10>(&mut x, 5);
        let want = if avx512f() && avx512dq() {
            12
        } else if avx2() {
            11
        } else {
            10
        };
        assert_eq!(arm, want);
        let step = 5 * (13 - want as u32);
        assert_eq!(x, [1 + step, 2 + step, 3 + step]);
    }

    #[test]
    fn dispatch_without_return_type_or_generics() {
        fn fill(x: &mut [f32], v: f32) {
            dispatch!(fn(x: &mut [f32], v: f32) {
                ["avx512f"] => x.fill(v),
                _ => x.fill(v),
            })
        }
        let mut x = [0.0f32; 37];
        fill(&mut x, 2.5);
        assert!(x.iter().all(|&v| v == 2.5));
    }
}
