//! The process's own series, read from `/proc` at each scrape under the names every Prometheus
//! client library exports: CPU time, resident and virtual memory, open and permitted file
//! descriptors, and the start time.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Collects the process's series; one that cannot be read is left out of the scrape.
#[derive(Debug)]
pub(crate) struct Process;

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let Ok(process) = procfs::process::Process::myself() else { return Ok(()) };
        if let Ok(stat) = process.stat() {
            let ticks = procfs::ticks_per_second() as f64;
            let cpu = (stat.utime + stat.stime) as f64 / ticks;
            let counter = ConstCounter::new(cpu);
            let help = "User and system CPU time spent, in seconds.";
            counter.encode(encoder.encode_descriptor("process_cpu_seconds", help, None, MetricType::Counter)?)?;
            let rss = stat.rss.saturating_mul(procfs::page_size());
            gauge(&mut encoder, "process_resident_memory_bytes", "Resident memory, in bytes.", rss)?;
            gauge(&mut encoder, "process_virtual_memory_bytes", "Virtual memory, in bytes.", stat.vsize)?;
            if let Ok(boot) = procfs::boot_time_secs() {
                let started = boot as f64 + stat.starttime as f64 / ticks;
                let help = "Start time of the process since the Unix epoch, in seconds.";
                ConstGauge::new(started).encode(encoder.encode_descriptor(
                    "process_start_time_seconds",
                    help,
                    None,
                    MetricType::Gauge,
                )?)?;
            }
        }
        if let Ok(open) = process.fd_count() {
            gauge(&mut encoder, "process_open_fds", "Open file descriptors.", open as u64)?;
        }
        if let Ok(limits) = process.limits()
            && let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit
        {
            gauge(&mut encoder, "process_max_fds", "The most file descriptors the process may open.", max)?;
        }
        Ok(())
    }
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> std::fmt::Result {
    let value = i64::try_from(value).unwrap_or(i64::MAX);
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}
