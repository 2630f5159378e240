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

    private static void AssertPng(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a }), path + " is not a PNG");
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        Assert.Equal(960, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(600, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
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
        Assert.Equal(8, output.ToString().Split('\n').Count(line => line.StartsWith("wrote ", StringComparison.Ordinal)));
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
}
