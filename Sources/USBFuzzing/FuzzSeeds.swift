// SPDX-License-Identifier: GPL-2.0-only

import LinuxKernel
import SystemPackage

/// Seed corpora, generated from the models (`airtap-usb-fuzz <target>
/// --write-seeds DIR`). The receive targets boot the kernel and record the
/// transfers the models really deliver to the drivers; enumeration seeds
/// are the models' descriptor sets and need no kernel.
public enum FuzzSeeds {
    public static func make(_ kind: USBFuzzTargetKind) throws -> [(name: String, bytes: [UInt8])] {
        switch kind {
        case .enumeration:
            return EnumerationSeeds.all()
        case .rtl8187Receive, .rtw88Receive:
            KernelConsole.forwardsToSwiftLog = false
            let kernel = try Kernel.boot(memoryMiB: 256, commandLine: kind.kernelCommandLine)
            let transfers =
                kind == .rtl8187Receive
                ? try ReceiveTargets.recordRTL8187Transfers(kernel: kernel)
                : try ReceiveTargets.recordRTW88Transfers(kernel: kernel)
            return ReceiveTargets.seedInputs(transfers, prefix: kind == .rtl8187Receive ? "rtl8187" : "rtl8821au")
        }
    }

    /// Writes each seed as DIR/NAME, replacing older seeds of the same name.
    public static func write(_ seeds: [(name: String, bytes: [UInt8])], to directory: String) throws {
        do {
            try makeHostDirectories(directory)
        } catch {
            throw FuzzHarnessError.badSeedDirectory(path: directory, reason: "\(error)")
        }
        for seed in seeds {
            let file = try FileDescriptor.open(
                "\(directory)/\(seed.name)", .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
            _ = try file.closeAfter { try file.writeAll(seed.bytes) }
        }
    }
}
