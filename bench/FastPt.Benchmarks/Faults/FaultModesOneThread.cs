using System;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;

namespace FastPt.Benchmarks.Faults;

/// <summary><c>fault-1t [passes]</c>: one thread's cost per 4 KiB demand fault in each lock mode, the modes
/// interleaved pass by pass in one process — a same-run comparison for a shared machine. One machine per mode (the
/// workload of <see cref="FaultBenchmarks"/>: 128 MiB of anonymous memory written a byte per page, frames dirty from
/// the previous pass so the zeroing is real), all booted and warmed first; then each round runs one pass of every
/// mode, the order rotating from round to round, timed by the thread's CPU clock on a thread pinned to CPU 0. Prints
/// each mode's median and mean ns per fault with a 95% CI, and each mode's per-round ratio to the single lock
/// (mean ± 95% CI, and the median, which a pass hit by a host stall does not move): the rounds pair the modes in time, so drift of the machine cancels. Linux only.</summary>
internal static partial class FaultModesOneThread
{
    private const ulong Base = 0x7f00_0000_0000;
    private const ulong TouchBase = 0x1000_0000_0000;
    private const ulong RegionSize = 128UL << 20;
    private const long Pages = (long)(RegionSize >> 12);

    /// <summary>Runs the rounds (default 20, after 4 warm-up rounds) and prints one row per mode.</summary>
    public static int Run(string[] args)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("fault-1t reads CLOCK_THREAD_CPUTIME_ID and pins with sched_setaffinity");
        int rounds = 20;
        if (args.Length > 1 && (!int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out rounds) || rounds is < 2 or > 10_000))
            throw new ArgumentException($"passes must be a whole number from 2 to 10000, not '{args[1]}'");
        PageTableLockMode[] modes = [PageTableLockMode.SingleLock, PageTableLockMode.Inline, PageTableLockMode.Allocated];
        FaultWorkers.Pin(0);
        var machines = new Machine[modes.Length];
        var spaces = new AddressSpace[modes.Length];
        var contexts = new MmuContext[modes.Length];
        try
        {
            for (int m = 0; m < modes.Length; m++)
            {
                machines[m] = new Machine(new MachineOptions { MemorySize = 2UL << 30, PageTableLocks = modes[m] });
                spaces[m] = machines[m].CreateAddressSpace();
                FaultWorkers.TouchAllFrames(machines[m], spaces[m], TouchBase);
                contexts[m] = spaces[m].CreateContext();
            }
            var ns = new double[modes.Length][];
            for (int m = 0; m < modes.Length; m++) ns[m] = new double[rounds];
            for (int round = -4; round < rounds; round++)
            {
                for (int k = 0; k < modes.Length; k++)
                {
                    int m = (k + Math.Max(round, 0)) % modes.Length;
                    double perFault = Pass(spaces[m], contexts[m]);
                    if (round >= 0) ns[m][round] = perFault;
                }
            }
            Console.WriteLine($"// {rounds} rounds, one thread on CPU 0, thread CPU time per 4 KiB fault; ratio = mode / SingleLock per round, mean ± 95% CI");
            Console.WriteLine($"{"locks",-11} {"median ns",10} {"mean ns",16} {"ratio to single lock",22} {"median ratio",13}");
            for (int m = 0; m < modes.Length; m++)
            {
                (double mean, double half) = MeanCi(ns[m]);
                double[] ratios = ns[m].Zip(ns[0], (a, b) => a / b).ToArray();
                (double ratio, double ratioHalf) = MeanCi(ratios);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{modes[m],-11} {Median(ns[m]),10:F0} {$"{mean:F0} ± {half:F0}",16} {$"{ratio:F3} ± {ratioHalf:F3}",22} {Median(ratios),13:F3}"));
            }
        }
        finally
        {
            for (int m = 0; m < modes.Length; m++)
            {
                contexts[m]?.Dispose();
                machines[m]?.Dispose();
            }
        }
        return 0;
    }

    /// <summary>Maps the region, faults every page in by a write, unmaps it; the CPU time per fault.</summary>
    private static double Pass(AddressSpace space, MmuContext context)
    {
        space.MapAnonymous(new VirtAddr(Base), RegionSize, Protection.ReadWrite);
        long t0 = ThreadCpuNs();
        for (ulong a = Base; a < Base + RegionSize; a += 4096) context.Write(new VirtAddr(a), (byte)1);
        long t1 = ThreadCpuNs();
        if (space.LeafCount(PageSize.Size4K) != Pages)
            throw new InvalidOperationException($"{space.LeafCount(PageSize.Size4K)} pages faulted in, expected {Pages}");
        space.Unmap(new VirtAddr(Base), RegionSize);
        return (t1 - t0) / (double)Pages;
    }

    private static (double Mean, double HalfWidth) MeanCi(double[] x)
    {
        double mean = x.Average();
        double sd = Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1));
        double t = x.Length - 1 <= 30 ? new[] { 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
            2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042 }[x.Length - 2] : 1.96 + 2.4 / (x.Length - 1);
        return (mean, t * sd / Math.Sqrt(x.Length));
    }

    private static double Median(double[] x)
    {
        double[] sorted = x.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private const int ClockThreadCputimeId = 3;

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGettime(int clock, out Timespec time);

    private static long ThreadCpuNs()
    {
        if (ClockGettime(ClockThreadCputimeId, out Timespec t) != 0) throw new InvalidOperationException("clock_gettime failed");
        return t.Seconds * 1_000_000_000 + t.Nanoseconds;
    }
}
