using System;
using System.Buffers.Binary;
using System.IO;
using System.Linq;
using System.Xml.Linq;
using FastPt.Tests.Cli;
using Xunit;

namespace FastPt.Tests.Plots;

/// <summary>bench/FastPt.Plots on small fixture reports: every plot is written as a real PNG and SVG beside its
/// report, the units and the caption from machine.txt are in it, and a malformed report is a clear error.</summary>
public class PlotToolTests
{
    private const string Characteristics = "Method,Job,AnalyzeLaunchVariance,EnvironmentVariables,IterationCount,LaunchCount,RunStrategy,UnrollFactor,WarmupCount";

    private static void WriteFixture(string root)
    {
        string run = Path.Combine(root, "2026-12-01-test-cpu");
        Directory.CreateDirectory(Path.Combine(run, "TranslateBenchmarks", "results"));
        Directory.CreateDirectory(Path.Combine(run, "FaultBenchmarks", "results"));
        Directory.CreateDirectory(Path.Combine(run, "BootScaling"));
        File.WriteAllLines(Path.Combine(run, "machine.txt"),
            ["machine: Test CPU (family 25, model 1: Zen 3), 2 cores", "date: 2026-12-01T11:36:37Z", "shared: yes"]);
        // A quoted field with a comma, a time in μs and one with a thousands separator, a failed row (NA).
        File.WriteAllLines(Path.Combine(run, "TranslateBenchmarks", "results", "FastPt.Benchmarks.Paging.TranslateBenchmarks-report.csv"),
        [
            Characteristics + ",Set,Mean,Error,StdDev,Ratio",
            "BareWalk,Job-A,False,\"A=1, B=2\",12,1,Default,16,3,OneGiBOf4K,5.036 ns,0.0703 ns,0.05 ns,1.00",
            "FastPtTryTranslate,Job-A,False,Empty,12,1,Default,16,3,OneGiBOf4K,23.270 ns,0.1785 ns,0.1 ns,4.62",
            "BareWalk,Job-A,False,Empty,12,1,Default,16,3,SixtyFourGiBOf4K,0.061 μs,0.002 μs,0.001 μs,1.00",
            "FastPtTryTranslate,Job-A,False,Empty,12,1,Default,16,3,SixtyFourGiBOf4K,\"1,012.5 ns\",3.1 ns,2 ns,16.6",
            "FastPtTryTranslate,Job-A,False,Empty,12,1,Default,16,3,OneGiBOf2M,4.485 ns,0.058 ns,0.04 ns,1.50",
            "Dictionary,Job-A,False,Empty,12,1,Default,16,3,OneGiBOf2M,NA,NA,NA,?",
        ]);
        File.WriteAllLines(Path.Combine(run, "FaultBenchmarks", "results", "FastPt.Benchmarks.Faults.FaultBenchmarks-report.csv"),
        [
            Characteristics + ",Locks,Mean,Error,StdDev,Ratio",
            "OneThread,ShortRun,False,Empty,3,1,Default,1,3,Inline,180 ns,10 ns,5 ns,1.00",
            "TwoThreads,ShortRun,False,Empty,3,1,Default,1,3,Inline,100 ns,8 ns,5 ns,0.56",
            "OneThread,ShortRun,False,Empty,3,1,Default,1,3,SingleLock,180 ns,10 ns,5 ns,1.00",
            "TwoThreads,ShortRun,False,Empty,3,1,Default,1,3,SingleLock,150 ns,9 ns,5 ns,0.83",
        ]);
        File.WriteAllLines(Path.Combine(run, "BootScaling", "boot-scaling.md"),
        [
            "Boot of a machine per RAM size.",
            "",
            "| RAM | boot | time (s) | min–max (s) | peak RSS above baseline (MiB) | baseline RSS (MiB) |",
            "|---:|---|---:|---:|---:|---:|",
            "| 1 GiB | deferred | 0.018 | 0.011–0.027 | 0.9 | 34.5 |",
            "| 1 GiB | eager | 0.025 | 0.018–0.033 | 1.2 | 34.5 |",
            "| 1 TiB | deferred | 0.038 | 0.019–0.048 | 1.0 | 34.5 |",
            "| 1 TiB | eager | 0.832 | 0.755–0.976 | 261.7 | 34.5 |",
            "| 64 TiB | deferred | 0.377 | 0.357–0.437 | 15.7 | 34.4 |",
        ]);
    }

    private static void AssertPng(string path, int width = 960, int height = 600)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a }), path + " is not a PNG");
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        Assert.True(bytes.Length > 10_000, $"{path}: {bytes.Length} bytes, too small to be a drawn plot");
    }

    private static string AssertSvg(string path)
    {
        XDocument svg = XDocument.Load(path);
        Assert.Equal("svg", svg.Root!.Name.LocalName);
        return string.Concat(svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value + "\n"));
    }

    [Fact]
    public void The_plot_tool_draws_every_scaling_curve_as_png_and_svg_beside_its_report()
    {
        using var directory = new TemporaryDirectory();
        WriteFixture(directory.Path);
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = FastPt.Plots.Program.Run([directory.Path], output, error);
        Assert.True(exitCode == 0, error.ToString());
        string run = Path.Combine(directory.Path, "2026-12-01-test-cpu");
        (string Folder, string Name, string[] Texts)[] expected =
        [
            (Path.Combine(run, "TranslateBenchmarks", "results"), "translate-vs-working-set", ["ns", "1 GiB", "64 GiB", "BareWalk (4K pages)", "FastPtTryTranslate (2M pages)"]),
            (Path.Combine(run, "FaultBenchmarks", "results"), "faults-vs-threads", ["threads", "SingleLock", "Inline split PTE locks"]),
            (Path.Combine(run, "BootScaling"), "boot-time-vs-ram", ["boot time (s", "1 GiB", "64 TiB", "eager boot (baseline)"]),
            (Path.Combine(run, "BootScaling"), "boot-memory-vs-ram", ["MiB", "deferred boot"]),
        ];
        foreach ((string folder, string name, string[] texts) in expected)
        {
            AssertPng(Path.Combine(folder, name + ".png"));
            string text = AssertSvg(Path.Combine(folder, name + ".svg"));
            foreach (string wanted in texts.Append("Test CPU (family 25, model 1: Zen 3), 2 cores").Append("2026-12-01"))
                Assert.True(text.Contains(wanted, StringComparison.Ordinal), $"{name}.svg does not show '{wanted}':\n{text}");
        }
        // Its TranslateBenchmarks folder also gets an issue-14 goal chart (two files): 4 curves and the goals.
        Assert.Equal(10, output.ToString().Split('\n').Count(line => line.StartsWith("wrote ", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_malformed_report_is_a_clear_error_naming_the_line()
    {
        using var directory = new TemporaryDirectory();
        File.WriteAllLines(directory.File("X.TranslateBenchmarks-report.csv"), [Characteristics + ",Set,Mean,Error", "BareWalk,\"unterminated"]);
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(3, FastPt.Plots.Program.Run([directory.Path], output, error));
        Assert.Contains("line 2 ends inside a quoted field", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, FastPt.Plots.Program.Run([directory.File("missing")], output, error));
        Assert.Contains("is not a directory", error.ToString(), StringComparison.Ordinal);
    }

    private static string Row(string method, string parameters, string mean, string error) =>
        $"{method},Job-A,False,Empty,10,2,Default,16,3,{parameters},{mean},{error},0.1 ns,1.00";

    /// <summary>A hot-path run (Tlb and Translate reports, the replay report in a subfolder) and an HVO run.</summary>
    private static void WriteGoalFixture(string root)
    {
        string run = Path.Combine(root, "perf-results", "2026-12-02-test-cpu");
        string hot = Path.Combine(run, "HotPath", "quiet-abc1234");
        Directory.CreateDirectory(Path.Combine(hot, "TraceReplay"));
        Directory.CreateDirectory(Path.Combine(run, "Hvo", "quiet-abc1234"));
        File.WriteAllLines(Path.Combine(run, "machine.txt"), ["machine: Test CPU (family 25, model 1: Zen 3), 2 cores", "date: 2026-12-02T02:25:00Z"]);
        File.WriteAllLines(Path.Combine(hot, "FastPt.Benchmarks.Tlb.TlbBenchmarks-report.csv"),
        [
            Characteristics + ",Categories,Mean,Error,StdDev,Ratio",
            Row("BareWalkHit", "Hit", "7.93 ns", "0.75 ns"), Row("TlbHit", "Hit", "1.80 ns", "0.10 ns"),
            Row("ReadHit", "Hit", "3.81 ns", "0.22 ns"), Row("TlbHitImplicitContext", "Hit", "2.90 ns", "0.30 ns"),
            Row("BareWalkPscMiss", "PscMiss", "8.56 ns", "0.44 ns"), Row("TlbMissPscHit", "PscMiss", "25.83 ns", "1.96 ns"),
        ]);
        File.WriteAllLines(Path.Combine(hot, "FastPt.Benchmarks.Paging.TranslateBenchmarks-report.csv"),
        [
            Characteristics + ",Set,Mean,Error,StdDev,Ratio",
            Row("BareWalk", "OneGiBOf2M", "5.40 ns", "0.72 ns"), Row("FastPtHeldContext", "OneGiBOf2M", "3.40 ns", "0.20 ns"),
            Row("Dictionary", "OneGiBOf2M", "4.68 ns", "0.41 ns"),
        ]);
        File.WriteAllLines(Path.Combine(hot, "TraceReplay", "FastPt.Benchmarks.Traces.TraceReplayBenchmarks-report.csv"),
        [
            Characteristics + ",Categories,Trace,Mean,Error,StdDev,Ratio",
            Row("FastPtHeldContext", "Translate,ls", "4.364 ms", "0.340 ms"), Row("Dictionary", "Translate,ls", "9.180 ms", "0.661 ms"),
            Row("JaggedArrayTable", "Translate,ls", "3.424 ms", "0.218 ms"),
            Row("WarmPass", "AccessPaired,ls", "6.615 ms", "0.757 ms"), Row("ColdPass", "AccessPaired,ls", "7.089 ms", "0.909 ms"),
        ]);
        File.WriteAllLines(Path.Combine(run, "Hvo", "quiet-abc1234", "FastPt.Benchmarks.HugeTlb.Hvo2MBenchmarks-report.csv"),
        [
            Characteristics + ",Categories,MemoryGiB,Design,Mean,Error,StdDev,Ratio",
            Row("OptimizePerFolio", "Optimize,64,Linux6x", "2.722 μs", "0.5425 μs"), Row("OptimizeBatched", "Optimize,64,Linux6x", "1.830 μs", "0.1617 μs"),
            Row("OptimizePerFolio", "Optimize,256,Linux6x", "3.140 μs", "0.3749 μs"), Row("OptimizeBatched", "Optimize,256,Linux6x", "2.286 μs", "0.2343 μs"),
            Row("RestorePerFolio", "Restore,64,SharedTail", "4.683 μs", "0.3017 μs"), Row("RestoreBatched", "Restore,64,SharedTail", "5.141 μs", "0.4082 μs"),
            // The floor category: the whole is drawn, its parts (which sum to it) are not — a part reaching the chart
            // would be refused as neither Optimize, Restore nor Floor, and the run's exit code above would say so.
            Row("Floor", "Floor,64,Linux6x", "1.567 μs", "0.0934 μs"), Row("FloorCopy", "Floor,64,Linux6x", "0.721 μs", "0.0582 μs"),
        ]);
    }

    [Fact]
    public void The_goal_and_hvo_charts_show_every_goal_row_with_its_verdict_and_the_hvo_goal_line()
    {
        using var directory = new TemporaryDirectory();
        WriteGoalFixture(directory.Path);
        string run = Path.Combine(directory.Path, "perf-results", "2026-12-02-test-cpu");
        string hot = Path.Combine(run, "HotPath", "quiet-abc1234");
        using var output = new StringWriter();
        using var error = new StringWriter();
        // One run's folder as the root: the caption still comes from the machine.txt above it.
        int exitCode = FastPt.Plots.Program.Run([hot, Path.Combine(run, "Hvo", "quiet-abc1234")], output, error);
        Assert.True(exitCode == 0, error.ToString());

        // 4 Tlb rows, 2 of 2 MiB (held ÷ bare walk, ÷ Dictionary), 3 of the ls trace; a goal chart only in the run's
        // folder (the replay subfolder's rows are in it), none in TraceReplay/.
        int rows = 9;
        AssertPng(Path.Combine(hot, "issue14-goals.png"), FastPt.Plots.PlotRenderer.GoalWidth, FastPt.Plots.PlotRenderer.GoalHeight(rows));
        Assert.False(File.Exists(Path.Combine(hot, "TraceReplay", "issue14-goals.png")));
        string goals = AssertSvg(Path.Combine(hot, "issue14-goals.svg"));
        foreach (string wanted in new[]
        {
            "TLB hit, held context ≤ 2 ns", "1.80 ns (1.70 ns–1.90 ns) met",           // under the bound: met
            "Read<ulong> on a hit ≤ 2 ns", "missed",                                  // 3.81 ns: missed
            "hit, per-thread context ≤ 3 ns", "2.90 ns (2.60 ns–3.20 ns) undecided",  // the interval straddles 3 ns
            "miss from the PSC ÷ bare walk ≤ 1.5", "3.02×",                           // 25.83 / 8.56
            "random 2M over 1 GiB, held ÷ bare walk ≤ 1.2", "random 2M over 1 GiB, held ÷ Dictionary ≤ 1",
            "ls: warm replay ÷ Dictionary (≥ 2× faster) ≤ 0.5", "0.48×", "ls: warm replay ÷ jagged array (≥ 1.3× faster) ≤ 0.77",
            "ls: cold pass ÷ warm pass ≤ 1.25", "1.07×", "measured ÷ goal", "Test CPU (family 25, model 1: Zen 3), 2 cores", "2026-12-02",
        })
            Assert.True(goals.Contains(wanted, StringComparison.Ordinal), $"issue14-goals.svg does not show '{wanted}':\n{goals}");
        Assert.DoesNotContain("per-thread ÷", goals, StringComparison.Ordinal); // no FastPtTryTranslate rows in the fixture

        string hvoFolder = Path.Combine(run, "Hvo", "quiet-abc1234");
        AssertPng(Path.Combine(hvoFolder, "hvo-2m-per-folio.png"));
        string hvo = AssertSvg(Path.Combine(hvoFolder, "hvo-2m-per-folio.svg"));
        foreach (string wanted in new[] { "µs per folio", "64 GiB", "256 GiB", "optimize, batched (Linux 6.x)", "optimize, one folio at a time (Linux 6.x)",
            "restore, batched (shared tail)", "goal (issue 13): optimize, batched ≤ 1 µs", "Test CPU",
            "floor: a batched optimize&#39;s bare work (Linux 6.x)" })
            Assert.True(hvo.Contains(wanted, StringComparison.Ordinal) || hvo.Contains(wanted.Replace("&#39;", "'", StringComparison.Ordinal), StringComparison.Ordinal),
                $"hvo-2m-per-folio.svg does not show '{wanted}':\n{hvo}");
        Assert.Equal(6, output.ToString().Split('\n').Count(line => line.StartsWith("wrote ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Goal_rows_compute_the_ratio_interval_of_ratio_ci_and_a_bad_hvo_report_is_a_clear_error()
    {
        // 25.8314 ± 1.9556 over 8.5602 ± 0.4357: ratio-ci.py prints 3.02 ± 0.28 (9.1%) for TlbMissPscHit.
        var measured = new FastPt.Plots.BenchmarkRow("TlbMissPscHit", new System.Collections.Generic.Dictionary<string, string>(), 25.8314, 1.9556);
        var baseline = new FastPt.Plots.BenchmarkRow("BareWalkPscMiss", new System.Collections.Generic.Dictionary<string, string>(), 8.5602, 0.4357);
        FastPt.Plots.GoalRow row = Assert.Single(FastPt.Plots.GoalCharts.Issue14([measured, baseline], [], [], "caption").Rows);
        Assert.Equal(3.02, row.Value, 2);
        Assert.Equal(0.28, (row.High - row.Low) / 2, 2);
        Assert.Equal("missed", row.Verdict);

        using var directory = new TemporaryDirectory();
        File.WriteAllLines(directory.File("X.Hvo2MBenchmarks-report.csv"),
            [Characteristics + ",Categories,Design,Mean,Error", "OptimizeBatched,Job-A,False,Empty,10,2,Default,16,3,Optimize,Linux6x,1.8 μs,0.1 μs"]);
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(3, FastPt.Plots.Program.Run([directory.Path], output, error));
        Assert.Contains("row OptimizeBatched has no MemoryGiB parameter", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("wrote", output.ToString(), StringComparison.Ordinal);
    }
}
