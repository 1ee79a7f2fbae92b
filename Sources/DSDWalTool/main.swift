// dsd-wal-tool: drives DSDLog for the crash test (`append-loop`), inspects a log (`verify`)
// and measures it (`bench`).
import DSDLog
import Glibc
import Logging

let usage = """
    usage:
      dsd-wal-tool append-loop DIR [--payload-bytes N] [--segment-bytes N]
          replay DIR, then append sequence numbers forever, printing each once durable
      dsd-wal-tool verify DIR [--segment-bytes N]
          replay DIR and print count, first, last and whether the sequence is contiguous
      dsd-wal-tool bench [DIR] [--payload-bytes N] [--seconds S]
          compare raw write+fdatasync with durable appends (default DIR: a new temp dir)

    """

struct Options {
    var positional: [String] = []
    var payloadBytes = 64
    var segmentBytes = LogSettings.default.segmentBytes
    var seconds = 2.0
}

func fail(_ message: String, code: Int32 = 2) -> Never {
    writeAll(2, message.hasSuffix("\n") ? message : message + "\n")
    exit(code)
}

func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 {
            if errno == EINTR { continue }
            exit(3)
        }
        done += n
    }
    bytes.removeAll()
}

func parse(_ arguments: ArraySlice<String>) -> Options {
    var options = Options()
    var rest = arguments
    while let argument = rest.popFirst() {
        switch argument {
        case "--payload-bytes", "--segment-bytes", "--seconds":
            guard let value = rest.popFirst(), let number = Double(value), number > 0 else {
                fail("\(argument) needs a positive number\n" + usage)
            }
            switch argument {
            case "--payload-bytes": options.payloadBytes = Int(number)
            case "--segment-bytes": options.segmentBytes = Int(number)
            default: options.seconds = number
            }
        case "-h", "--help":
            writeAll(1, usage)
            exit(0)
        default:
            if argument.hasPrefix("-") { fail("unknown option \(argument)\n" + usage) }
            options.positional.append(argument)
        }
    }
    return options
}

LoggingSystem.bootstrap(StreamLogHandler.standardError)
let logger = Logger(label: "dsd-wal-tool")
let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail(usage) }
let options = parse(arguments.dropFirst(2))
var settings = LogSettings.default
settings.segmentBytes = options.segmentBytes

switch arguments[1] {
case "append-loop":
    guard options.positional.count == 1 else { fail(usage) }
    appendLoop(
        directory: options.positional[0], settings: settings, payloadBytes: options.payloadBytes)
case "verify":
    guard options.positional.count == 1 else { fail(usage) }
    verify(directory: options.positional[0], settings: settings)
case "bench":
    guard options.positional.count <= 1 else { fail(usage) }
    await bench(
        directory: options.positional.first, payloadBytes: options.payloadBytes,
        seconds: options.seconds)
default:
    fail(usage)
}

func appendLoop(directory: String, settings: LogSettings, payloadBytes: Int) -> Never {
    do {
        let (state, writer) = try WriteAheadLog.open(
            directory: directory, settings: settings, logger: logger, as: SequenceLog.self)
        var sequence = (state.last ?? 0) + 1
        while true {
            _ = try writer.appendSync(SequenceLog.payload(sequence: sequence, bytes: payloadBytes))
            writeAll(1, "\(sequence)\n")
            sequence += 1
        }
    } catch {
        fail("append-loop: \(error)", code: 1)
    }
}

func verify(directory: String, settings: LogSettings) {
    do {
        let (state, writer) = try WriteAheadLog.open(
            directory: directory, settings: settings, logger: logger, as: SequenceLog.self)
        writer.close()
        var line = "records \(state.count) first \(state.first.map(String.init) ?? "-")"
        line +=
            " last \(state.last.map(String.init) ?? "-") contiguous \(state.contiguous ? "yes" : "no")"
        if let gap = state.firstBreak {
            line += " (after \(gap.after.map(String.init) ?? "start") comes \(gap.found))"
        }
        writeAll(1, line + "\n")
        if !state.contiguous { exit(1) }
    } catch {
        fail("verify: \(error)", code: 1)
    }
}
