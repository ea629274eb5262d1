//! The comparison benchmark's parsers and statistics, tested without running the benchmark (a
//! `harness = false` bench cannot carry its own unit tests).

#[allow(dead_code)]
#[path = "../benches/compare/stats.rs"]
mod stats;

#[allow(dead_code)]
#[path = "../benches/compare/dds.rs"]
mod dds;

#[allow(dead_code)]
#[path = "../benches/compare/pin.rs"]
mod pin;

use std::time::Duration;

use dds::{ROUND_TRIP_PER_REPORTED, parse_ping, parse_sub};
use stats::{Latencies, json_field};

#[test]
fn percentiles_and_json() {
    let mut l = Latencies::with_capacity(1000);
    for i in 1..=1000u64 {
        assert!(l.record(Duration::from_nanos(i * 1000)));
    }
    assert!(!l.record(Duration::ZERO));
    let s = l.summary();
    assert_eq!(s.count, 1000);
    assert!((s.p50_us - 500.0).abs() <= 1.0);
    assert!((s.p999_us - 999.0).abs() <= 1.0);
    let j = s.to_json();
    assert_eq!(json_field(&j, "count"), Some(1000.0));
    assert_eq!(json_field(&j, "max_us"), Some(1000.0));
}

#[test]
fn parses_ping_lines() {
    let out = "[1] participant vm:1: new (self)\n\
        [1] 1.000  vm:2 size 64 mean 20.0us min 12.0us 50% 30.000us 90% 18.0us 99% 35.0us max 100.0us cnt 10\n\
        [1] 2.000  vm:2 size 64 mean 15.7us min 12.0us 50% 14.000us 90% 18.0us 99% 35.0us max 1845.4us cnt 30000\n\
        [1] 2.000  rss:7.8MB vcsw:15957\n\
        [1] 3.000  vm:2 size 64 mean 15.7us min 12.0us 50% 16.000us 90% 18.0us 99% 30.0us max 1000.0us cnt 10000\n";
    let s = parse_ping(out).unwrap();
    assert_eq!(s.count, 40000);
    // ddsperf prints half round trips: the summary holds whole ones (twice the printed values).
    assert_eq!(ROUND_TRIP_PER_REPORTED, 2.0);
    assert!((s.p50_us - 29.0).abs() < 1e-9);
    assert!((s.max_us - 3690.8).abs() < 1e-9);
    assert!(s.p999_us.is_nan());
    assert!(parse_ping("nothing here").is_none());
}

#[test]
fn parses_sub_lines() {
    let out = "[1] 1.002  size 64 total 1 lost 0 delta 100 lost 0 rate 0.1 kS/s\n\
        [1] 2.002  size 64 total 1 lost 0 delta 400 lost 0 rate 0.4 kS/s\n\
        [1] 3.002  size 64 total 1 lost 0 delta 400 lost 0 rate 0.4 kS/s\n\
        [1] 4.002  size 64 total 1 lost 0 delta 50 lost 0 rate 0.05 kS/s\n";
    assert!((parse_sub(out).unwrap() - 400.0).abs() < 1e-6);
    assert!(parse_sub("").is_none());
}

#[test]
fn cpu_lists_and_placements() {
    use pin::{Pin, Placements, cpus_for, describe, parse_cpu_list};
    assert_eq!(parse_cpu_list("0-1").unwrap(), vec![0, 1]);
    assert_eq!(parse_cpu_list("0,2-3,2").unwrap(), vec![0, 2, 3]);
    assert_eq!(parse_cpu_list("5").unwrap(), vec![5]);
    assert!(parse_cpu_list("3-1").is_err());
    assert!(parse_cpu_list("x").is_err());

    assert_eq!(Placements::parse("none").unwrap().busy, Pin::None);
    let p = Placements::parse("busy=same-cpu").unwrap();
    assert_eq!(
        (p.block, p.busy, p.rate),
        (Pin::SameCpu, Pin::SameCpu, Pin::Split)
    );
    assert!(Placements::parse("spin=split").is_err());
    assert!(Placements::parse("busy").is_err());
    assert!(Placements::parse("apart").is_err());

    assert_eq!(cpus_for(Pin::SameCpu, &[0, 1]), (Some(0), Some(0)));
    assert_eq!(cpus_for(Pin::Split, &[2, 5]), (Some(2), Some(5)));
    assert_eq!(cpus_for(Pin::Split, &[0]), (None, None));
    assert_eq!(cpus_for(Pin::SameCpu, &[3]), (None, None));
    assert_eq!(cpus_for(Pin::None, &[0, 1]), (None, None));

    let d = describe(&Placements::DEFAULT, &[0, 1]);
    assert!(d.contains("blocking ping/pong: both on CPU 0"), "{d}");
    assert!(d.contains("sender on CPU 0, receiver on CPU 1"), "{d}");
    assert!(describe(&Placements::DEFAULT, &[0]).contains("one CPU"));
}
