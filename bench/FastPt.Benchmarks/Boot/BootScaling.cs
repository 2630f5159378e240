using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace FastPt.Benchmarks.Boot;

/// <summary>Boot time and peak host memory against simulated RAM, 1 GiB to 64 TiB. Not a BenchmarkDotNet suite: peak
/// resident memory is a property of a whole process, so every boot runs in a child process of its own (after a
/// 1 GiB warm-up boot, so the JIT is not timed) and the parent writes a markdown table. The baseline, in the same
/// run, is the eager boot (every reserved descriptor written and every free block linked at boot, as before
/// deferred init), up to the size where it still fits the machine.</summary>
/// <remarks><c>boot-scaling [--out FILE] [--launches N] [--eager-max SIZE] [--sizes 1G,1T,...]</c>.</remarks>
public static partial class BootScaling
{
    private static readonly ulong[] DefaultSizes = [1UL << 30, 4UL << 30, 16UL << 30, 64UL << 30, 256UL << 30, 1UL << 40, 4UL << 40, 16UL << 40, 64UL << 40];

    /// <summary>One boot measured in a child: seconds, host bytes written (the engine's accounting), peak resident
    /// bytes of the process, resident bytes before the boot, and kernel descriptor walks.</summary>
    private readonly record struct Sample(double Seconds, long HostBytes, long PeakResident, long BaselineResident, long Walks);

    /// <summary>Runs the report (<c>boot-scaling</c>) or one measured boot (<c>boot-once SIZE MODE</c>, in a child).</summary>
    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args is [_, "boot-once", string size, string mode]) return BootOnce(ParseSize(size), mode == "deferred");
        string? output = null;
        int launches = 5;
        ulong eagerMax = 4UL << 40;
        ulong[] sizes = DefaultSizes;
        for (int i = 1; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i++])
            {
                case "--out": output = value; break;
                case "--launches": launches = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--eager-max": eagerMax = ParseSize(value); break;
                case "--sizes": sizes = value.Split(',').Select(ParseSize).ToArray(); break;
                default: throw new ArgumentException($"unknown option {args[i - 1]}");
            }
        }
        string table = Report(sizes, launches, eagerMax);
        Console.Write(table);
        if (output is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            File.WriteAllText(output, table);
        }
        return 0;
    }

    private static string Report(ulong[] sizes, int launches, ulong eagerMax)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Boot of `new Machine(new MachineOptions {{ MemorySize = RAM }})` (4-level, 1 GiB direct-map pages), each in a fresh process after a 1 GiB warm-up boot; {launches} launches per row: median time (min–max), median peak resident memory of the process above what it held before the boot, host bytes the engine accounts as written (2 MiB per chunk touched) and kernel descriptor walks (kernel TLB misses). `eager` is the baseline: every reserved descriptor written and every free max-order block linked at boot.");
        text.AppendLine();
        text.AppendLine("| RAM | boot | time (s) | min–max (s) | peak RSS above baseline (MiB) | baseline RSS (MiB) | host bytes written (MiB) | descriptor walks |");
        text.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|");
        foreach (ulong size in sizes)
        {
            foreach (bool deferred in new[] { true, false })
            {
                if (!deferred && size > eagerMax) continue;
                var samples = new List<Sample>();
                for (int i = 0; i < launches; i++) samples.Add(RunChild(size, deferred));
                double[] times = samples.Select(s => s.Seconds).Order().ToArray();
                long peak = Median(samples.Select(s => s.PeakResident - s.BaselineResident));
                long baseline = Median(samples.Select(s => s.BaselineResident));
                string row = string.Create(CultureInfo.InvariantCulture,
                    $"| {FormatSize(size)} | {(deferred ? "deferred" : "eager")} | {times[times.Length / 2]:F3} | {times[0]:F3}–{times[^1]:F3} | {peak / (double)(1 << 20):F1} | {baseline / (double)(1 << 20):F1} | {samples[0].HostBytes >> 20:N0} | {samples[0].Walks:N0} |");
                text.AppendLine(row);
                Console.Error.WriteLine(row);
            }
        }
        return text.ToString();
    }

    private static long Median(IEnumerable<long> values)
    {
        long[] sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private static Sample RunChild(ulong size, bool deferred)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        // Under `dotnet FastPt.Benchmarks.dll` the process is the host: name the assembly again.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(BootScaling).Assembly.Location);
        foreach (string arg in new[] { "boot-scaling", "boot-once", size.ToString(CultureInfo.InvariantCulture), deferred ? "deferred" : "eager" })
            start.ArgumentList.Add(arg);
        using Process child = Process.Start(start) ?? throw new InvalidOperationException("cannot start " + self);
        string line = child.StandardOutput.ReadToEnd().Trim();
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"boot of {FormatSize(size)} exited with {child.ExitCode}: {line}");
        string[] f = line.Split(' ');
        return new Sample(double.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture),
            long.Parse(f[2], CultureInfo.InvariantCulture), long.Parse(f[3], CultureInfo.InvariantCulture), long.Parse(f[4], CultureInfo.InvariantCulture));
    }

    private static int BootOnce(ulong size, bool deferred)
    {
        using (new Machine(new MachineOptions { MemorySize = 1UL << 30 }, null, deferred))
        {
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        File.WriteAllText("/proc/self/clear_refs", "5"); // the peak restarts from the current resident size
        long baseline = Status("VmRSS");
        long started = Stopwatch.GetTimestamp();
        using var machine = new Machine(new MachineOptions { MemorySize = size }, null, deferred);
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        long peak = Status("VmHWM");
        MemoryStatistics s = machine.GetStatistics();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{seconds:R} {s.HostBytes} {peak} {baseline} {s.KernelDescriptorWalks}"));
        return 0;
    }

    private static long Status(string field)
    {
        Match m = StatusField().Match(File.ReadAllText("/proc/self/status").Replace(field + ":", "@", StringComparison.Ordinal));
        return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 1024;
    }

    [GeneratedRegex(@"@\s+(\d+) kB")]
    private static partial Regex StatusField();

    private static ulong ParseSize(string text)
    {
        char unit = char.ToUpperInvariant(text[^1]);
        int shift = unit switch { 'G' => 30, 'T' => 40, 'M' => 20, _ => 0 };
        return ulong.Parse(shift == 0 ? text : text[..^1], CultureInfo.InvariantCulture) << shift;
    }

    private static string FormatSize(ulong bytes) => bytes >= 1UL << 40 ? $"{bytes >> 40} TiB" : $"{bytes >> 30} GiB";
}
