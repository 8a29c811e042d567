//! Renderers: turn results (plain serde data) into text for people and into machine formats. They
//! never measure, never touch the kernel, and never decide pass or fail; every renderer reads the
//! same result values.

pub mod scenario;
