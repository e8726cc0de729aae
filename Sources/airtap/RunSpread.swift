// SPDX-License-Identifier: GPL-2.0-only

/// One figure over repeated bench runs: median, min, max and the spread
/// (max/min) the benchmarks state.
struct RunSpread {
    var median: Double
    var minimum: Double
    var maximum: Double

    init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        minimum = sorted[0]
        maximum = sorted[sorted.count - 1]
    }

    /// max/min; 1 when every run gave the same (or a zero) figure.
    var ratio: Double { minimum > 0 ? maximum / minimum : 1 }

    /// "RESULT <label>_spread size=S runs=N <name>_median=… <name>_min=… <name>_max=… <name>_spread=…"
    /// for each figure; nothing for a single run (its own line says it all).
    static func report(_ label: String, size: Int, _ figures: [(name: String, values: [Double])]) {
        guard let runs = figures.first?.values.count, runs > 1 else { return }
        var fields = ["size=\(size)", "runs=\(runs)"]
        for (name, values) in figures {
            guard let spread = RunSpread(values) else { continue }
            fields += [
                "\(name)_median=\(String(format2: spread.median))", "\(name)_min=\(String(format2: spread.minimum))",
                "\(name)_max=\(String(format2: spread.maximum))", "\(name)_spread=\(String(format2: spread.ratio))",
            ]
        }
        print("RESULT \(label)_spread " + fields.joined(separator: " "))
    }
}
