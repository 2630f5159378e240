using System;
using System.Globalization;
using System.Runtime.InteropServices;

namespace FastPt.Benchmarks.Faults;

/// <summary><c>fault-cpu</c>: the workload of <see cref="FaultBenchmarks"/> timed by each thread's own CPU clock
/// (<c>CLOCK_THREAD_CPUTIME_ID</c>), with the host's minor page faults of each pass (<c>getrusage(RUSAGE_THREAD)</c>).
/// On a shared machine the wall clock measures what a thread got of a core; the CPU time per fault does not count
/// time slices lost to other processes, so it shows the direction of a change to one thread's cost while others
/// build. Two threads that the load keeps from running at the same moment do not bounce cache lines, so the
/// two-thread CPU time is a lower bound of the contention; only the quiet benchmark measures scaling. Linux only.</summary>
internal static partial class FaultCpuTime
{
    private static readonly PageTableLockMode[] s_modes = [PageTableLockMode.Inline, PageTableLockMode.Allocated, PageTableLockMode.SingleLock];
    private static readonly int[] s_threadCounts = [1, 2];

    private const ulong Base = 0x7f00_0000_0000;
    private const ulong RegionSize = 128UL << 20;
    private const long PagesPerRegion = (long)(RegionSize >> 12);

    /// <summary>Runs every lock mode with one and two threads: <c>fault-cpu [passes]</c> (default 10 measured
    /// passes after 3 warm-up passes). Prints one line per mode and thread count.</summary>
    public static int Run(string[] args)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("fault-cpu reads Linux's per-thread clocks");
        int passes = 10;
        if (args.Length > 1 && (!int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out passes) || passes is < 1 or > 1000))
            throw new ArgumentException($"passes must be a whole number from 1 to 1000, not '{args[1]}'");
        Console.WriteLine($"{"locks",-11} {"threads",7} {"CPU ns/fault",13} {"wall ns/fault",14} {"host faults/pass",17}");
        foreach (PageTableLockMode mode in s_modes)
        {
            foreach (int threads in s_threadCounts)
            {
                Measurement m = Measure(mode, threads, passes);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{mode,-11} {threads,7} {m.CpuNsPerFault,13:F0} {m.WallNsPerFault,14:F0} {m.HostFaultsPerPass,17:F1}"));
            }
        }
        return 0;
    }

    private readonly record struct Measurement(double CpuNsPerFault, double WallNsPerFault, double HostFaultsPerPass);

    private static Measurement Measure(PageTableLockMode mode, int threads, int passes)
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 2UL << 30, PageTableLocks = mode });
        using AddressSpace space = machine.CreateAddressSpace();
        long[] cpuNs = new long[threads], hostFaults = new long[threads];
        bool measuring = false;
        using var workers = new FaultWorkers(threads, index =>
        {
            MmuContext context = space.CreateContext();
            ulong start = Base + (ulong)index * RegionSize;
            return (() =>
            {
                long cpu0 = ThreadCpuNs(), faults0 = ThreadMinorFaults();
                for (ulong a = start; a < start + RegionSize; a += 4096) context.Write(new VirtAddr(a), (byte)1);
                if (!measuring) return;
                cpuNs[index] += ThreadCpuNs() - cpu0;
                hostFaults[index] += ThreadMinorFaults() - faults0;
            }, context);
        });
        long wallTicks = 0;
        for (int pass = 0; pass < 3 + passes; pass++)
        {
            measuring = pass >= 3;
            for (int t = 0; t < threads; t++) space.MapAnonymous(new VirtAddr(Base + (ulong)t * RegionSize), RegionSize, Protection.ReadWrite);
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            workers.Run(threads);
            if (measuring) wallTicks += System.Diagnostics.Stopwatch.GetTimestamp() - t0;
            if (space.LeafCount(PageSize.Size4K) != threads * PagesPerRegion)
                throw new InvalidOperationException($"{space.LeafCount(PageSize.Size4K)} pages faulted in, expected {threads * PagesPerRegion}");
            space.Unmap(new VirtAddr(Base), (ulong)threads * RegionSize);
        }
        long faults = threads * PagesPerRegion * passes;
        long cpuTotal = 0, hostTotal = 0;
        for (int t = 0; t < threads; t++)
        {
            cpuTotal += cpuNs[t];
            hostTotal += hostFaults[t];
        }
        double wallNs = wallTicks * (1e9 / System.Diagnostics.Stopwatch.Frequency);
        return new Measurement(cpuTotal / (double)faults, wallNs / faults, hostTotal / (double)passes);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary><c>struct rusage</c> of Linux x86-64: two timevals, then 14 longs (<c>ru_minflt</c> is the fifth).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct Rusage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, SharedRss, UnsharedData, UnsharedStack, MinorFaults, MajorFaults;
        public fixed long Rest[8];
    }

    private const int ClockThreadCputimeId = 3;
    private const int RusageThread = 1;

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGettime(int clock, out Timespec time);

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, out Rusage usage);

    private static long ThreadCpuNs()
    {
        if (ClockGettime(ClockThreadCputimeId, out Timespec t) != 0) throw new InvalidOperationException("clock_gettime failed");
        return t.Seconds * 1_000_000_000 + t.Nanoseconds;
    }

    private static long ThreadMinorFaults()
    {
        if (GetRusage(RusageThread, out Rusage u) != 0) throw new InvalidOperationException("getrusage failed");
        return u.MinorFaults;
    }
}
