//! The metrics a claim may name, one enum per kind of test, each name parsed once (with the
//! claim) so that the verdict reads a typed metric and matches every one of a kind exhaustively.
//! Each metric also says what it is measured in, which decides the units its bound may take.
//! Names and units only: reading a metric off a result is the verdict's job.

use serde::{Serialize, Serializer};

use crate::units::Quantity;

/// What a metric is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Time,
    Percent,
    Rate,
    /// Bytes: a size, or a bare number of bytes.
    Bytes,
    Count,
}

impl Measure {
    /// Whether a claim may compare this metric with `bound`.
    pub fn accepts(self, bound: &Quantity) -> bool {
        matches!(
            (self, bound),
            (Measure::Time, Quantity::Time(_))
                | (Measure::Percent, Quantity::Percent(_))
                | (Measure::Rate, Quantity::Pps(_) | Quantity::Bps(_))
                | (Measure::Bytes, Quantity::Bytes(_) | Quantity::Count(_))
                | (Measure::Count, Quantity::Count(_))
        )
    }

    /// What a bound of this metric looks like, for a hint.
    pub fn example(self) -> &'static str {
        match self {
            Measure::Time => "a duration such as 200us",
            Measure::Percent => "a percentage such as 0.01%",
            Measure::Rate => "a rate such as 100kpps or 1Gbit",
            Measure::Bytes => "a size such as 256KiB (or a number of bytes)",
            Measure::Count => "a plain number",
        }
    }
}

/// One enum of metric names per kind of test: each variant with its name in claims and what it
/// is measured in.
macro_rules! metric_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal, $measure:ident;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant,)+];
            pub const NAMES: &[&str] = &[$($text,)+];

            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn measure(self) -> Measure {
                match self {
                    $($name::$variant => Measure::$measure,)+
                }
            }

            fn parse(word: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|m| m.name() == word)
            }
        }
    };
}

metric_enum!(
    /// Latency: the distribution's statistics, and the frames lost.
    LatencyMetric {
        Min = "min", Time;
        Mean = "mean", Time;
        P50 = "p50", Time;
        P90 = "p90", Time;
        P99 = "p99", Time;
        P999 = "p99.9", Time;
        Max = "max", Time;
        Loss = "loss", Percent;
    }
);

metric_enum!(
    /// Throughput, per frame size.
    ThroughputMetric {
        Loss = "loss", Percent;
        RxRate = "rx_rate", Rate;
        Reordered = "reordered", Count;
        Duplicates = "duplicates", Count;
    }
);

metric_enum!(
    /// RFC 2544, per frame size.
    Rfc2544Metric {
        /// The zero-loss rate.
        Throughput = "throughput", Rate;
        /// The mean latency at that rate.
        Latency = "latency", Time;
        /// The loss at 100% of the maximum rate.
        Loss = "loss", Percent;
        /// The longest burst without loss, in frames.
        BackToBack = "back_to_back", Count;
    }
);

metric_enum!(
    /// RFC 2889 address caching.
    AddressCachingMetric {
        Capacity = "capacity", Count;
        /// What the switch itself says it learned.
        Learned = "learned", Count;
    }
);

metric_enum!(
    /// RFC 2889 address learning rate.
    LearningRateMetric {
        LearningRate = "learning_rate", Rate;
        /// The rate found, as a share of what the first, unthrottled trial offered.
        OfOffered = "of_offered", Percent;
    }
);

metric_enum!(
    /// An endpoint ramp, per step.
    RampMetric {
        BroadcastLoss = "broadcast_loss", Percent;
        Unattributed = "unattributed", Count;
        CreateTime = "create_time", Time;
        Memory = "memory", Bytes;
        P50 = "p50", Time;
        P99 = "p99", Time;
        RxRate = "rx_rate", Rate;
        Loss = "loss", Percent;
        DegradedAt = "degraded_at", Count;
    }
);

metric_enum!(
    /// A MAC sweep.
    MacSweepMetric {
        Macs = "macs", Count;
        Missing = "missing", Count;
        Loss = "loss", Percent;
        Leaked = "leaked", Count;
        Learned = "learned", Count;
    }
);

metric_enum!(
    /// IP exhaustion: the IPAM pool, and the neighbour tables over ARP (and ND, with `6`).
    IpExhaustionMetric {
        Pool = "pool", Count;
        Allocated = "allocated", Count;
        Refused = "refused", Count;
        Resolved = "resolved", Count;
        Resolved6 = "resolved6", Count;
        Failed = "failed", Count;
        Failed6 = "failed6", Count;
        TableFulls = "table_fulls", Count;
        TableFulls6 = "table_fulls6", Count;
    }
);

/// The kinds of test whose claims name metrics (a matrix's claims are delivery claims).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricSet {
    Latency,
    Throughput,
    Rfc2544,
    AddressCaching,
    AddressLearningRate,
    EndpointRamp,
    MacSweep,
    IpExhaustion,
}

impl MetricSet {
    pub const ALL: [MetricSet; 8] = [
        MetricSet::Latency,
        MetricSet::Throughput,
        MetricSet::Rfc2544,
        MetricSet::AddressCaching,
        MetricSet::AddressLearningRate,
        MetricSet::EndpointRamp,
        MetricSet::MacSweep,
        MetricSet::IpExhaustion,
    ];

    /// The names claims of this kind may use, in the order the README lists them.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            MetricSet::Latency => LatencyMetric::NAMES,
            MetricSet::Throughput => ThroughputMetric::NAMES,
            MetricSet::Rfc2544 => Rfc2544Metric::NAMES,
            MetricSet::AddressCaching => AddressCachingMetric::NAMES,
            MetricSet::AddressLearningRate => LearningRateMetric::NAMES,
            MetricSet::EndpointRamp => RampMetric::NAMES,
            MetricSet::MacSweep => MacSweepMetric::NAMES,
            MetricSet::IpExhaustion => IpExhaustionMetric::NAMES,
        }
    }

    /// The metric of this kind named `word`.
    pub fn parse(self, word: &str) -> Option<Metric> {
        match self {
            MetricSet::Latency => LatencyMetric::parse(word).map(Metric::Latency),
            MetricSet::Throughput => ThroughputMetric::parse(word).map(Metric::Throughput),
            MetricSet::Rfc2544 => Rfc2544Metric::parse(word).map(Metric::Rfc2544),
            MetricSet::AddressCaching => {
                AddressCachingMetric::parse(word).map(Metric::AddressCaching)
            }
            MetricSet::AddressLearningRate => {
                LearningRateMetric::parse(word).map(Metric::AddressLearningRate)
            }
            MetricSet::EndpointRamp => RampMetric::parse(word).map(Metric::EndpointRamp),
            MetricSet::MacSweep => MacSweepMetric::parse(word).map(Metric::MacSweep),
            MetricSet::IpExhaustion => IpExhaustionMetric::parse(word).map(Metric::IpExhaustion),
        }
    }

    /// Every metric of this kind.
    pub fn all(self) -> Vec<Metric> {
        self.names()
            .iter()
            .filter_map(|name| self.parse(name))
            .collect()
    }
}

/// A metric a claim names, of the kind of its test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Latency(LatencyMetric),
    Throughput(ThroughputMetric),
    Rfc2544(Rfc2544Metric),
    AddressCaching(AddressCachingMetric),
    AddressLearningRate(LearningRateMetric),
    EndpointRamp(RampMetric),
    MacSweep(MacSweepMetric),
    IpExhaustion(IpExhaustionMetric),
}

impl Metric {
    /// Its name in claims.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Latency(m) => m.name(),
            Metric::Throughput(m) => m.name(),
            Metric::Rfc2544(m) => m.name(),
            Metric::AddressCaching(m) => m.name(),
            Metric::AddressLearningRate(m) => m.name(),
            Metric::EndpointRamp(m) => m.name(),
            Metric::MacSweep(m) => m.name(),
            Metric::IpExhaustion(m) => m.name(),
        }
    }

    pub fn measure(self) -> Measure {
        match self {
            Metric::Latency(m) => m.measure(),
            Metric::Throughput(m) => m.measure(),
            Metric::Rfc2544(m) => m.measure(),
            Metric::AddressCaching(m) => m.measure(),
            Metric::AddressLearningRate(m) => m.measure(),
            Metric::EndpointRamp(m) => m.measure(),
            Metric::MacSweep(m) => m.measure(),
            Metric::IpExhaustion(m) => m.measure(),
        }
    }
}

/// By its name, as written in the claim.
impl Serialize for Metric {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_metric() {
        for set in MetricSet::ALL {
            let all = set.all();
            assert_eq!(all.len(), set.names().len(), "{set:?}");
            for (m, name) in all.iter().zip(set.names()) {
                assert_eq!(m.name(), *name);
                assert_eq!(set.parse(name), Some(*m));
            }
            assert_eq!(set.parse("jitter"), None);
        }
        assert_eq!(
            MetricSet::Latency.parse("p99.9"),
            Some(Metric::Latency(LatencyMetric::P999))
        );
        assert_eq!(MetricSet::Throughput.parse("p99"), None);
    }

    #[test]
    fn each_metric_takes_the_units_it_is_measured_in() {
        let p99 = Metric::Latency(LatencyMetric::P99).measure();
        assert!(p99.accepts(&Quantity::Time(1.0)));
        assert!(!p99.accepts(&Quantity::Count(1.0)));
        let memory = Metric::EndpointRamp(RampMetric::Memory).measure();
        assert!(memory.accepts(&Quantity::Bytes(1024.0)));
        assert!(memory.accepts(&Quantity::Count(1024.0)));
        assert!(!memory.accepts(&Quantity::Percent(1.0)));
        let capacity = Metric::AddressCaching(AddressCachingMetric::Capacity).measure();
        assert!(!capacity.accepts(&Quantity::Bytes(1.0)));
        let rate = Metric::AddressLearningRate(LearningRateMetric::LearningRate).measure();
        assert!(rate.accepts(&Quantity::Pps(1.0)) && rate.accepts(&Quantity::Bps(1.0)));
    }
}
