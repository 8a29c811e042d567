//! mvlab: builds macvlan labs in network namespaces from a scenario file, predicts every frame's
//! path with a pure model, and measures what the real kernel does (delivery, leaks, latency,
//! throughput, MAC/IP exhaustion). The modules follow the data flow:
//! scenario -> (model | lab -> engine -> measure) -> verdict -> report; see README "Design".

pub mod addr;
pub mod cli;
pub mod conclusions;
pub mod delivery;
pub mod diag;
pub mod diff;
pub mod docker_api;
pub mod engine;
pub mod guest;
pub mod import;
pub mod inspect;
pub mod kernels;
pub mod lab;
pub mod measure;
pub mod model;
pub mod netns;
pub mod push;
pub mod reference;
pub mod report;
pub mod run;
pub mod scenario;
pub mod stop;
pub mod switch;
pub mod units;
pub mod verdict;
