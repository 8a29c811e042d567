//! Renderers: turn results (plain serde data) into text for people and into machine formats. They
//! never measure, never touch the kernel, and never decide pass or fail; every renderer reads the
//! same result values. JSON is the result itself (`serde_json`), documented in the README.

pub mod comparison;
pub mod conclusions;
pub mod docker;
pub mod exposure;
pub mod html;
pub mod inspect;
pub mod junit;
pub mod lab;
pub mod paint;
pub mod prom;
pub mod scenario;
pub mod simulation;
pub mod svg;
pub mod switch;
pub mod text;
pub mod traffic;
