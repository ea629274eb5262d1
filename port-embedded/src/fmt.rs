//! Logging for the whole crate: one set of macros that route to `defmt` (feature `defmt`), to `log`
//! (feature `log`) or to nothing. Enabling both is a build error, because a firmware image would
//! otherwise carry two logging back ends and every message twice.
//!
//! With neither feature the arguments are still borrowed, so a variable used only in a log line
//! does not turn into an "unused" warning.
#![macro_use]
#![allow(unused_macros)]

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!("l2net-embedded: enable at most one of the features `defmt` and `log`");

macro_rules! l2_log {
    ($level:ident, $s:literal $(, $x:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::$level!($s $(, $x)*);
        #[cfg(feature = "log")]
        ::log::$level!($s $(, $x)*);
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        let _ = ($(&$x),*);
    }};
}

macro_rules! trace {
    ($($t:tt)*) => { l2_log!(trace, $($t)*) };
}
macro_rules! debug {
    ($($t:tt)*) => { l2_log!(debug, $($t)*) };
}
macro_rules! info {
    ($($t:tt)*) => { l2_log!(info, $($t)*) };
}
macro_rules! warn {
    ($($t:tt)*) => { l2_log!(warn, $($t)*) };
}
macro_rules! error {
    ($($t:tt)*) => { l2_log!(error, $($t)*) };
}
