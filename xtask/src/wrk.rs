//! The bench's load generator: a `wrk` run and its report, the server's CPU time over it, and the
//! medians of several runs.

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use crate::read_stdout;

/// One load-generator run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Run {
    pub(crate) requests_per_second: f64,
    pub(crate) p50_micros: f64,
    pub(crate) p99_micros: f64,
    pub(crate) errors: u64,
    /// Requests completed in the whole run.
    pub(crate) requests: u64,
    /// The server's CPU time (user and system) over the run, per request. It varies less
    /// between runs than req/s on a shared machine, so it is the figure to compare changes by.
    pub(crate) cpu_micros_per_request: f64,
}

/// User and system CPU time `pid` has used, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may contain spaces;
    // utime and stime are the 14th and 15th fields, in clock ticks.
    let fields: Vec<&str> = stat.rsplit_once(')').context("no command name in stat")?.1.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<f64>().ok()).context("short stat");
    Ok((ticks(11)? + ticks(12)?) / clock_ticks_per_second())
}

/// `getconf CLK_TCK`: the unit of `/proc/PID/stat` times (100 on every common Linux).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        read_stdout(Command::new("getconf").arg("CLK_TCK"))
            .ok()
            .and_then(|out| out.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Runs `wrk` with `connections` connections for `seconds` against `url`, with a Lua `script` if given.
pub(crate) fn wrk_run(url: &str, connections: u32, seconds: u32, script: Option<&Path>) -> anyhow::Result<Run> {
    let mut command = Command::new("wrk");
    command.args([
        "--latency",
        "--timeout",
        "10s",
        "-t",
        &connections.min(2).to_string(),
        "-c",
        &connections.to_string(),
        "-d",
        &format!("{seconds}s"),
    ]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = read_stdout(command.arg(url))?;
    parse_wrk(&output).with_context(|| format!("cannot read wrk's report:\n{output}"))
}

fn parse_wrk(output: &str) -> Option<Run> {
    let mut run = Run::default();
    for line in output.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        match (first, words.next()) {
            ("Requests/sec:", Some(value)) => run.requests_per_second = value.parse().ok()?,
            (count, Some("requests")) => run.requests = count.parse().ok()?,
            ("50%", Some(value)) => run.p50_micros = parse_duration_micros(value)?,
            ("99%", Some(value)) => run.p99_micros = parse_duration_micros(value)?,
            ("Non-2xx", _) => run.errors += line.rsplit(' ').next()?.parse::<u64>().ok()?,
            ("Socket", Some("errors:")) => {
                run.errors +=
                    line.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum::<u64>();
            }
            _ => {}
        }
    }
    (run.requests_per_second > 0.0).then_some(run)
}

/// `101.00us`, `1.23ms`, `2.00s` as microseconds.
fn parse_duration_micros(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => number,
        "ms" => number * 1e3,
        "s" => number * 1e6,
        "m" => number * 60e6,
        _ => return None,
    })
}

/// The medians of several runs; errors are summed.
#[derive(Clone, Debug)]
pub(crate) struct Median(pub(crate) Run);

impl Median {
    /// The medians of `runs`.
    pub(crate) fn of(runs: &[Run]) -> Self {
        Self(Run {
            requests_per_second: median(runs.iter().map(|r| r.requests_per_second)),
            p50_micros: median(runs.iter().map(|r| r.p50_micros)),
            p99_micros: median(runs.iter().map(|r| r.p99_micros)),
            errors: runs.iter().map(|r| r.errors).sum(),
            requests: runs.iter().map(|r| r.requests).sum(),
            cpu_micros_per_request: median(runs.iter().map(|r| r.cpu_micros_per_request)),
        })
    }
}

/// The median of `values`; 0 for none.
pub(crate) fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_reports() {
        let report = "Running 5s test @ http://127.0.0.1:1/hello\n  2 threads and 64 connections\n\
            \x20 Latency Distribution\n     50%  512.00us\n     75%    1.00ms\n     90%    2.00ms\n     99%    3.50ms\n\
            \x20 100 requests in 5.00s, 10.00KB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n\
            \x20 Non-2xx or 3xx responses: 4\nRequests/sec:  12345.67\nTransfer/sec:      1.00MB\n";
        let run = parse_wrk(report).expect("parses");
        assert_eq!((run.requests_per_second, run.p50_micros, run.p99_micros, run.errors), (12345.67, 512.0, 3500.0, 7));
        assert_eq!(run.requests, 100);
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
    }
}
