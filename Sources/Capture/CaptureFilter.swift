// SPDX-License-Identifier: GPL-2.0-only

import CLibPcap
import KernelSockets
import LinuxKernel

public enum CaptureFilterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libpcap could not compile the expression; `reason` is its pcap_geterr text.
    case invalid(expression: String, reason: String)
    case libpcapUnavailable(String)

    public var description: String {
        switch self {
        case .invalid(let expression, let reason):
            return "invalid capture filter \"\(expression)\": \(reason); the syntax is pcap-filter(7)'s "
                + "(802.11 examples: \"type mgt subtype beacon\", \"wlan addr2 02:00:00:00:00:01\", \"type data\")"
        case .libpcapUnavailable(let reason):
            return "cannot compile capture filters: \(reason)"
        }
    }
}

/// A capture filter (`-f`, pcap-filter(7) syntax) compiled by libpcap into
/// classic BPF for 802.11 + radiotap frames, the program the kernel runs
/// on the packet socket (SO_ATTACH_FILTER), so rejected frames are never
/// copied out of the kernel library.
public struct CaptureFilter: Sendable, Equatable {
    /// dumpcap's default snapshot length: accept frames whole.
    public static let defaultSnapLength: Int32 = 262_144

    public let expression: String
    /// `struct sock_filter` / `struct bpf_insn`: code, jt, jf, k.
    public struct Instruction: Sendable, Equatable {
        public var code: UInt16
        public var jumpIfTrue: UInt8
        public var jumpIfFalse: UInt8
        public var operand: UInt32
    }
    public let instructions: [Instruction]

    /// pcap_compile keeps parser state in globals in some libpcap versions.
    private static let compilerLock = HostMutex(())

    /// Compiles `expression` for link type 127 (radiotap). Needs no kernel,
    /// so a bad filter is refused before anything starts.
    public init(expression: String, linkType: Int32 = Int32(LinkType.ieee80211Radiotap), snapLength: Int32 = defaultSnapLength) throws {
        self.expression = expression
        instructions = try Self.compilerLock.withLock { _ in
            guard let handle = pcap_open_dead(linkType, snapLength) else {
                throw CaptureFilterError.libpcapUnavailable("pcap_open_dead(\(linkType)) failed")
            }
            defer { pcap_close(handle) }
            var program = bpf_program()
            guard pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
                throw CaptureFilterError.invalid(expression: expression, reason: String(cString: pcap_geterr(handle)))
            }
            defer { pcap_freecode(&program) }
            return (0..<Int(program.bf_len)).map { index in
                let instruction = program.bf_insns[index]
                return Instruction(code: instruction.code, jumpIfTrue: instruction.jt, jumpIfFalse: instruction.jf, operand: instruction.k)
            }
        }
    }

    /// nil for an empty expression (no filter), as libpcap treats "".
    public static func compile(_ expression: String?) throws -> CaptureFilter? {
        guard let expression, !expression.allSatisfy(\.isWhitespace) else { return nil }
        return try CaptureFilter(expression: expression)
    }

    /// Whether the program accepts every frame whole (`ret #snaplen` alone).
    public var acceptsEverything: Bool {
        instructions.count == 1 && instructions[0].code == 0x06 && instructions[0].operand != 0
    }

    /// Attaches the program to `socket` with SO_ATTACH_FILTER. The kernel
    /// library shares our address space, so `struct sock_fprog` and the
    /// instructions it points to are plain host memory, copied in by the
    /// kernel's own sk_attach_filter (which also checks the program).
    func attach(to socket: KernelSocket) throws {
        var packed: [UInt8] = []
        packed.reserveCapacity(instructions.count * 8)
        for instruction in instructions {
            packed.appendLittleEndian(instruction.code)
            packed.append(instruction.jumpIfTrue)
            packed.append(instruction.jumpIfFalse)
            packed.appendLittleEndian(instruction.operand)
        }
        try packed.withUnsafeBytes { program in
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }: 16 bytes on 64-bit.
            var header: [UInt8] = []
            header.appendLittleEndian(UInt16(instructions.count))
            header += [0, 0, 0, 0, 0, 0]
            header.appendLittleEndian(UInt64(UInt(bitPattern: program.baseAddress)))
            do {
                try socket.setOption(level: SocketABI.levelSocket, name: SocketABI.optionAttachFilter, bytes: header)
            } catch {
                throw CaptureFilterError.invalid(
                    expression: expression, reason: "the kernel refused the compiled program (\(error))")
            }
        }
    }
}
