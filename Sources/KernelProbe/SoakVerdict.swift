// SPDX-License-Identifier: GPL-2.0-only

/// What a soak run measured, its report table and whether it passed.
struct SoakVerdict {
    var settings: SoakSettings
    var samples: [SoakSample]
    /// Frames the air was to offer over the run, and those that had
    /// arrived by the end (on time, unless the chip's receive path stalled).
    var scheduled: Int
    var offered: Int
    var framesCaptured: UInt64
    /// Offered frames the chip's FIFO had no room for: the capture fell behind.
    var lostInFIFO: Int
    /// Frames the chip dropped with its FIFO at a retune (by design, as hardware does).
    var discardedAtRetunes: Int
    var kernelDrops: UInt64
    /// Injected frames mac80211 handed the monitor back with their TX status.
    var injectionEchoes: UInt64
    var injected: Int
    var transmittedByChip: Int
    var injectionError: String?
    var hops: Int
    var kernelWarnings: [String]

    /// The sample growth is measured from: the first at or after warm-up.
    var warmupSample: SoakSample {
        samples.first { $0.seconds >= settings.warmupSeconds } ?? samples[samples.count - 1]
    }

    /// Offered frames neither captured nor accounted for by the chip: lost
    /// between the chip and the capture file (driver, mac80211, socket).
    var lostOnTheWay: Int { offered - lostInFIFO - discardedAtRetunes - Int(framesCaptured) }

    /// Lowest capture rate over a whole sample interval.
    var slowestInterval: (seconds: Double, framesPerSecond: Double)? {
        zip(samples, samples.dropFirst()).map { previous, sample in
            (sample.seconds, Double(sample.framesCaptured - previous.framesCaptured) / (sample.seconds - previous.seconds))
        }.min { $0.1 < $1.1 }
    }

    /// Each watched figure from warm-up to the end, and whether it grew too much.
    var growth: [(name: String, start: Int, end: Int, fraction: Double)] {
        let start = warmupSample.watched
        let end = samples[samples.count - 1].watched
        return zip(start, end).map { first, last in
            (first.name, first.value, last.value, first.value > 0 ? Double(last.value - first.value) / Double(first.value) : 0)
        }
    }

    var failures: [String] {
        var failures: [String] = []
        for figure in growth where figure.fraction > SoakSettings.allowedGrowth {
            failures.append(
                "\(figure.name) grew \(percent(figure.fraction)) after warm-up (\(figure.start) -> \(figure.end)), "
                    + "more than \(percent(SoakSettings.allowedGrowth))")
        }
        if offered < scheduled {
            failures.append(
                "only \(offered) of the \(scheduled) frames scheduled had reached the chip by the end: its receive path stalled")
        }
        if lostInFIFO > 0 {
            failures.append(
                "\(lostInFIFO) of \(offered) frames offered at \(settings.framesPerSecond)/s were lost in the chip's FIFO "
                    + "(the capture did not keep up with the paced rate)")
        }
        if lostOnTheWay != 0 {
            failures.append("\(lostOnTheWay) of \(offered) offered frames never reached the capture file")
        }
        if kernelDrops > 0 { failures.append("the capture socket dropped \(kernelDrops) frames") }
        if let injectionError { failures.append("injection failed: \(injectionError)") }
        if transmittedByChip < injected {
            failures.append("\(injected) frames injected, the chip transmitted \(transmittedByChip)")
        }
        if !kernelWarnings.isEmpty {
            failures.append("the kernel warned \(kernelWarnings.count) time(s), first: \(kernelWarnings[0])")
        }
        return failures
    }

    func report() {
        ProbeOutput.emit(SoakSample.tableHeader)
        for (index, sample) in samples.enumerated() {
            ProbeOutput.emit(sample.tableRow(previous: index > 0 ? samples[index - 1] : nil))
        }
        ProbeOutput.emit("growth from the sample at \(Int(warmupSample.seconds)) s (end of warm-up) to the last:")
        for figure in growth {
            ProbeOutput.emit("  \(figure.name): \(figure.start) -> \(figure.end) (\(percent(figure.fraction)))")
        }
        let last = samples[samples.count - 1]
        let warm = warmupSample
        ProbeOutput.result([
            "soak_seconds": "\(Int(settings.seconds))", "samples": "\(samples.count)", "paced_fps": "\(settings.framesPerSecond)",
            "slowest_interval_fps": "\(Int(slowestInterval?.framesPerSecond ?? 0))",
        ])
        ProbeOutput.result([
            "frames_scheduled": "\(scheduled)", "frames_offered": "\(offered)", "frames_captured": "\(framesCaptured)", "lost_in_fifo": "\(lostInFIFO)",
            "discarded_at_retunes": "\(discardedAtRetunes)", "lost_on_the_way": "\(lostOnTheWay)",
            "kernel_drops": "\(kernelDrops)", "injected": "\(injected)", "transmitted_by_chip": "\(transmittedByChip)",
            "tx_status_echoes": "\(injectionEchoes)", "hops": "\(hops)", "kernel_warnings": "\(kernelWarnings.count)",
        ])
        ProbeOutput.result([
            "rss_kib_warm": "\(warm.residentKiB)", "rss_kib_end": "\(last.residentKiB)", "hwm_kib_end": "\(last.peakResidentKiB)",
            "threads_warm": "\(warm.threads)", "threads_end": "\(last.threads)",
            "kworkers_warm": "\(warm.kernelWorkers)", "kworkers_end": "\(last.kernelWorkers)",
            "fds_warm": "\(warm.descriptors)", "fds_end": "\(last.descriptors)",
            "kernel_used_kib_warm": "\(warm.kernelUsedKiB)", "kernel_used_kib_end": "\(last.kernelUsedKiB)",
            "kernel_slab_kib_warm": "\(warm.kernelSlabKiB)", "kernel_slab_kib_end": "\(last.kernelSlabKiB)",
            "kernel_tasks_warm": "\(warm.kernelTasks)", "kernel_tasks_end": "\(last.kernelTasks)",
        ])
    }

    private func percent(_ fraction: Double) -> String {
        let hundredths = Int((fraction * 10_000).rounded())
        let sign = hundredths < 0 ? "-" : ""
        let magnitude = abs(hundredths)
        return "\(sign)\(magnitude / 100).\(magnitude % 100 < 10 ? "0" : "")\(magnitude % 100) %"
    }
}
