/// dsd-bench: the numbers `make bench` prints.
///
/// Every benchmark runs real `dsd server` (and where stated `dsd agent`) processes on
/// loopback, found next to this executable, in a private directory under /tmp that is removed
/// afterwards. Each prints a table of measured numbers next to the project's targets; nothing
/// is asserted, so a missed target shows up as a number, never as a failure of the run.
///
/// - propagation: put on agent A → applied in agent B's replica, with 1, 10 and 100 agents.
/// - wire: bytes an agent connection receives per pushed single-entry change.
/// - rss: resident memory of the directory and of agents holding 10,000 and 100,000 entries.
/// - detection: heartbeat deadline → the entry seen invalid on another agent.
/// - fuse: the `/dsd` mount of real agents: reads vs tmpfs, `cat`, write → remote inotify.
/// - fanout: commit → the last of 100 to 10,000 agents, flat and through `dsd node`s.
/// - scale: 10^4 to 10^6 entries: `dsd load`, a mounted agent joining, memory, lookups.
/// - redundancy: the directory on etcd: write latency next to etcd's own put and the log,
///   and the interruption a master SIGKILL causes.
import Dispatch
import Foundation

let usage = """
    usage: dsd-bench [all|propagation|wire|rss|detection|fuse|fanout|scale|redundancy] [--puts N] [--entries N,N…]
                     [--scale N,N…] [--kills N]
                     [--dsd PATH]

      all            every benchmark below (what `make bench` runs)
      propagation    put on agent A → applied on agent B, p50/p99/max, 1, 10 and 100 agents
      wire           bytes on the wire per pushed single-entry change
      rss            VmRSS of `dsd server` and `dsd agent` with 10,000 and 100,000 entries
      detection      heartbeat deadline → invalid on another agent, p50/p99/max over 50 trials
      fuse           /dsd mounts of two agents: open+read+close and cat vs tmpfs, write → remote inotify
      fanout         commit → last of N agents (protocol peers), 100 and 1,000 flat, 1,000 and 10,000 via 10 nodes
      scale          dsd load of 10^4, 10^5, 10^6 entries through a mounted agent, a mounted agent joining,
                     RSS, lookups vs tmpfs, puts during the join
      redundancy     dsd on a 3-member etcd: put latency vs etcd's own put and the log; master SIGKILL → writes
                     and promotion again, p50/p99

      --puts N             measured puts per propagation setup and per wire case (default 1000)
      --entries N,N…       entry counts for rss (default 10000,100000)
      --scale N,N…         entry counts for scale (default 10000,100000,1000000)
      --kills N            master SIGKILLs in the redundancy benchmark (default 20)
      --dsd PATH           the `dsd` executable to run (default: the one next to dsd-bench)
    """

struct Options {
    var command = "all"
    var puts = 1000
    var entries = [10_000, 100_000]
    var scale = [10_000, 100_000, 1_000_000]
    var kills = 20
    var dsd: String?

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "all", "propagation", "wire", "rss", "detection", "fuse", "fanout", "scale", "redundancy":
                command = argument
            case "--puts":
                guard let value = rest.popFirst().flatMap(Int.init), value > 0 else {
                    throw BenchError("--puts needs a positive number")
                }
                puts = value
            case "--entries":
                let values = rest.popFirst()?.split(separator: ",").compactMap { Int($0) } ?? []
                guard !values.isEmpty, values.allSatisfy({ $0 > 0 }), values == values.sorted() else {
                    throw BenchError("--entries needs increasing positive numbers, e.g. 10000,100000")
                }
                entries = values
            case "--scale":
                let values = rest.popFirst()?.split(separator: ",").compactMap { Int($0) } ?? []
                guard !values.isEmpty, values.allSatisfy({ $0 > 0 }) else {
                    throw BenchError("--scale needs positive numbers, e.g. 10000,100000,1000000")
                }
                scale = values
            case "--kills":
                guard let value = rest.popFirst().flatMap(Int.init), value > 0 else {
                    throw BenchError("--kills needs a positive number")
                }
                kills = value
            case "--dsd":
                guard let path = rest.popFirst() else { throw BenchError("--dsd needs a path") }
                dsd = path
            case "-h", "--help", "help":
                print(usage)
                exit(0)
            default:
                throw BenchError("unknown argument '\(argument)'\n\(usage)")
            }
        }
    }
}

func runBenchmarks(_ options: Options, children: ChildProcesses, scratch: Scratch) throws {
    let dsd = try options.dsd ?? locateDSD()
    let started = ContinuousClock.now
    print(
        "dsd-bench: \(ProcessInfo.processInfo.activeProcessorCount) CPUs, load average \(loadAverage()), dsd at \(dsd)")
    if options.command == "all" || options.command == "propagation" {
        let bench = PropagationBench(dsd: dsd, scratch: scratch, children: children, puts: options.puts, warmup: 100)
        PropagationBench.print(try bench.run(), puts: options.puts)
    }
    if options.command == "all" || options.command == "wire" {
        let bench = WireBench(dsd: dsd, scratch: scratch, children: children, puts: options.puts)
        WireBench.print(try bench.run())
        WireBench.print(try WireBench.sealCosts())
    }
    if options.command == "all" || options.command == "detection" {
        let bench = DetectionBench(dsd: dsd, scratch: scratch, children: children, trials: 50)
        DetectionBench.print(try bench.run(), trials: 50)
    }
    if options.command == "all" || options.command == "rss" {
        let bench = MemoryBench(dsd: dsd, scratch: scratch, children: children, counts: options.entries)
        MemoryBench.print(try bench.run())
    }
    if options.command == "all" || options.command == "fuse" {
        let bench = FuseBench(dsd: dsd, scratch: scratch, children: children)
        FuseBench.print(try bench.run(), iterations: bench.iterations, catRuns: bench.catRuns, writes: bench.writes)
    }
    if options.command == "all" || options.command == "fanout" {
        let changes = min(options.puts, 200)
        let bench = FanoutBench(dsd: dsd, scratch: scratch, children: children, changes: changes)
        FanoutBench.print(try bench.run(), changes: changes)
    }
    if options.command == "all" || options.command == "scale" {
        let bench = ScaleBench(dsd: dsd, scratch: scratch, children: children, counts: options.scale)
        ScaleBench.print(try bench.run())
    }
    if options.command == "all" || options.command == "redundancy" {
        let bench = RedundancyBench(
            dsd: dsd, scratch: scratch, children: children, puts: options.puts, kills: options.kills)
        RedundancyBench.print(try bench.run())
    }
    print("\ndsd-bench: done in \(Format.seconds(ContinuousClock.now - started)), load average \(loadAverage())")
}

/// The 1-minute load average: other work on the machine shows up in every latency.
func loadAverage() -> String {
    String(readProcFile("/proc/loadavg")?.split(separator: " ").first ?? "?")
}

let children = ChildProcesses()
do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let scratch = try Scratch()
    let signalSources = stopOnSignals(children, scratch: scratch)
    defer {
        children.stopAll()
        scratch.remove()
        for source in signalSources { source.cancel() }
    }
    try runBenchmarks(options, children: children, scratch: scratch)
} catch {
    FileHandle.standardError.write(Data("dsd-bench: \(error)\n".utf8))
    exit(1)
}
