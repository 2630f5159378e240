using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.Commands;
using FastPt.Cli.KernelCheck;
using FastPt.Cli.PageSets;
using FastPt.Cli.Scenarios;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary>kernel-check against the kernel this test runs on. Each pattern's kernel figures are also checked
/// against the counts a page set needs by construction (distinct 2 MiB, 1 GiB and 512 GiB blocks: the region is
/// 512 GiB aligned), so a broken probe cannot pass by agreeing with a broken FastPt. Serial: VmPTE is per process,
/// and tests running beside these would map memory while they measure.</summary>
[Collection("Serial")]
public class KernelCheckTests
{
    private static void SkipUnlessSupported()
    {
        string? reason = HostSupport.Unsupported();
        Assert.SkipWhen(reason is not null, reason ?? "");
    }

    [Theory]
    [InlineData("dense")]
    [InlineData("stride2m")]
    [InlineData("stride1g")]
    [InlineData("random")]
    public void FastPt_equals_the_running_kernel_for_every_pattern(string pattern)
    {
        SkipUnlessSupported();
        CliRunner.Result result = CliRunner.Run("kernel-check", "--pattern", pattern, "--json");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        JsonElement root = document.RootElement;
        Assert.True(root.GetProperty("passed").GetBoolean());
        Assert.True(root.GetProperty("kernel").GetProperty("readingsAgreed").GetBoolean());

        PagePatternKind kind = PagePattern.Parse(pattern)!.Value;
        PageSet pages = PagePattern.Build(kind, PagePattern.DefaultCount(kind), PagePattern.DefaultRandomSpanBytes, CommonOptions.DefaultSeed);
        (long pte, long pmd, long pud) = (pages.DistinctBlocks(9), pages.DistinctBlocks(18), pages.DistinctBlocks(27));
        foreach (string side in new[] { "kernel", "fastpt" })
        {
            JsonElement levels = root.GetProperty(side);
            Assert.Equal(pte, levels.GetProperty("pte").GetInt64());
            Assert.Equal(pmd, levels.GetProperty("pmd").GetInt64());
            Assert.Equal(pud, levels.GetProperty("pud").GetInt64());
        }
        Assert.Equal((pte + pmd + pud) * 4, root.GetProperty("kernel").GetProperty("vmPteGrowthKiB").GetInt64());
        Assert.All(root.GetProperty("difference").EnumerateObject(), level => Assert.Equal(0, level.Value.GetInt64()));
    }

    [Fact]
    public void Default_sizes_take_more_than_one_table_at_every_level_somewhere()
    {
        // stride1g crosses a 512 GiB boundary, so the PUD level is compared with a count above one.
        PageSet stride1g = PagePattern.Build(PagePatternKind.Stride1G, PagePattern.DefaultCount(PagePatternKind.Stride1G), 0, 1);
        Assert.Equal(2, stride1g.DistinctBlocks(27));
    }

    [Fact]
    public void A_page_file_is_compared_and_the_table_is_side_by_side()
    {
        SkipUnlessSupported();
        using var directory = new TemporaryDirectory();
        string path = Path.Combine(directory.Path, "pages.txt");
        // Two neighbouring pages, a page in the next 2 MiB, one 1 GiB away and one past the first 512 GiB.
        File.WriteAllLines(path, ["0", "1", "# comment", "0x200", "262144", "0x8000000"]);
        CliRunner.Result result = CliRunner.Run("kernel-check", "--pages", path);
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        Assert.Contains("5 distinct pages", result.Output, StringComparison.Ordinal);
        Assert.Contains("kernel pages", result.Output, StringComparison.Ordinal);
        Assert.Contains("FastPt pages", result.Output, StringComparison.Ordinal);
        Assert.Contains("PASS: FastPt equals the kernel at every level (VmPTE +36 kB on both)", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mismatch_fails_with_the_difference_per_level()
    {
        SkipUnlessSupported();
        PageSet pages = PagePattern.Build(PagePatternKind.Stride2M, 8, 0, 1);
        using var machine = new Machine(new MachineOptions { MemorySize = 1UL << 30 });
        KernelCheckResult real = KernelComparison.Run(machine, pages);
        Assert.True(real.Passed, real.Verdict);
        // The same kernel measurement against a FastPt that spent one PTE table too many.
        KernelCheckResult sabotaged = real with { FastPt = real.FastPt with { Pte = real.FastPt.Pte + 1 } };
        Assert.False(sabotaged.Passed);
        Assert.Equal("FAIL: FastPt differs from the kernel: PTE +1, PMD 0, PUD 0 tables; VmPTE +4 kB", sabotaged.Verdict);
        // Readings that never agreed are a failure, whatever the numbers.
        KernelCheckResult unstable = real with { Kernel = real.Kernel with { Agreed = false } };
        Assert.False(unstable.Passed);
        Assert.StartsWith("FAIL: the kernel's readings never agreed", unstable.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public void The_kernel_side_attributes_levels_and_leaves_nothing_mapped()
    {
        SkipUnlessSupported();
        PageSet pages = PagePattern.Build(PagePatternKind.Stride1G, 3, 0, 1);
        HostMeasurement measurement = HostPageTables.Measure(pages, KernelComparison.MaxAttempts);
        Assert.True(measurement.Agreed);
        Assert.Equal(new TableLevels(3, 3, 1), measurement.Result.Tables);
        Assert.Equal(0UL, measurement.Result.RegionStart % HostPageTables.PgdEntryBytes);
        Assert.All(measurement.Attempts, attempt => Assert.True(attempt.VmPteDeltaKiB >= 0));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void The_main_job_scenario_passes_with_either_paging_mode(int levels)
    {
        SkipUnlessSupported();
        var options = new MachineOptions { MemorySize = 4UL << 30, PagingMode = levels == 5 ? PagingMode.FiveLevel : PagingMode.FourLevel };
        ScenarioReport report = ScenarioRunner.Run(new KernelCheckScenario(), options, seed: 7);
        Assert.False(report.Skipped);
        Assert.Equal(4, report.Checks.Count);
        Assert.True(report.Passed, string.Join(Environment.NewLine, report.Checks.Select(c => $"{c.Name}: {c.Detail}")));
        Assert.Equal(8, report.Tables.Single().Rows.Count);
    }

    [Fact]
    public void Growth_a_block_cannot_explain_is_disturbance_not_a_table()
    {
        // A set opening a 512 GiB region (3 tables), then two blocks of the same 1 GiB (1 table each).
        BlockGrowth[] clean = [new(3, 12), new(1, 4), new(1, 4)];
        HostAttempt attempt = HostPageTables.Attribute(clean, outsideKiB: 8, regionStart: 0);
        Assert.Equal(new TableLevels(3, 1, 1), attempt.Tables);
        Assert.True(attempt.Clean);
        Assert.Equal(20, attempt.VmPteDeltaKiB);   // what happened between blocks stays out

        // Another thread's table inside the third block's readings: not a PMD table of ours.
        HostAttempt noisy = HostPageTables.Attribute([new(3, 12), new(1, 4), new(1, 8)], 0, 0);
        Assert.Equal(1, noisy.DisturbedBlocks);
        Assert.False(noisy.Clean);
        // Frees by another thread, and growth that is not whole tables, are disturbance too.
        Assert.False(HostPageTables.Attribute([new(3, 12), new(1, -4)], 0, 0).Clean);
        Assert.False(HostPageTables.Attribute([new(3, 14)], 0, 0).Clean);
        // Less than the block may allocate is a measurement (a real difference shows this way), not disturbance.
        HostAttempt fewer = HostPageTables.Attribute([new(3, 8), new(1, 0)], 0, 0);
        Assert.True(fewer.Clean);
        Assert.Equal(new TableLevels(1, 1, 0), fewer.Tables);
    }

    [Fact]
    public void Another_thread_allocating_page_tables_meanwhile_never_makes_a_false_mismatch()
    {
        SkipUnlessSupported();
        // A thread that keeps mapping, touching and unmapping memory: VmPTE grows and shrinks under the probe.
        using var stop = new System.Threading.CancellationTokenSource();
        long noiseRounds = 0;
        var noise = new System.Threading.Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                nint region = LinuxMemory.MapAnonymousReadOnly(1UL << 30, out _);
                if (region == 0) return;
                int sum = 0;
                for (int page = 0; page < 64; page++) sum |= System.Runtime.InteropServices.Marshal.ReadByte(region + (page << 21));
                _ = LinuxMemory.Unmap(region, 1UL << 30);
                System.Threading.Interlocked.Add(ref noiseRounds, 1 + sum);
            }
        })
        { IsBackground = true };
        noise.Start();
        int passed = 0, unstable = 0;
        try
        {
            using var machine = new Machine(new MachineOptions { MemorySize = 1UL << 30 });
            foreach (PagePatternKind kind in new[] { PagePatternKind.Dense, PagePatternKind.Stride2M, PagePatternKind.Stride1G, PagePatternKind.Random })
            {
                PageSet pages = PagePattern.Build(kind, Math.Min(PagePattern.DefaultCount(kind), 600), 2UL << 30, 5);
                KernelCheckResult result = KernelComparison.Run(machine, pages);
                // Agreed readings must be the true ones; readings that never agree are reported as such.
                if (result.Kernel.Agreed) Assert.True(result.Passed, PagePattern.Name(kind) + ": " + result.Verdict);
                if (result.Passed) passed++;
                else unstable++;
            }
        }
        finally
        {
            stop.Cancel();
            noise.Join();
        }
        Assert.True(System.Threading.Interlocked.Read(ref noiseRounds) > 0);
        Assert.Equal(4, passed + unstable);
    }

    [Theory]
    [InlineData("kernel-check", "--pattern", "dense", "--pages", "x")]
    [InlineData("kernel-check", "--seed", "3")]
    [InlineData("kernel-check", "--pattern", "stride2m", "--span", "1G")]
    [InlineData("kernel-check", "--count", "0")]
    [InlineData("kernel-check", "--pattern", "stride1g", "--count", "70000")]
    [InlineData("kernel-check", "--pattern", "random", "--count", "3", "--span", "8K")]
    [InlineData("kernel-check", "--pattern", "sparse")]
    public void Bad_arguments_are_usage_errors(params string[] args)
    {
        CliRunner.Result result = CliRunner.Run(args);
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.StartsWith("fastpt: ", result.Error, StringComparison.Ordinal);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public void An_empty_page_file_is_bad_input()
    {
        SkipUnlessSupported();
        using var directory = new TemporaryDirectory();
        string path = Path.Combine(directory.Path, "empty.txt");
        File.WriteAllText(path, "# nothing\n");
        CliRunner.Result result = CliRunner.Run("kernel-check", "--pages", path);
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("has no pages", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_pattern_is_distinct_seeded_and_inside_its_span()
    {
        PageSet a = PagePattern.Build(PagePatternKind.Random, 1000, 16UL << 20, 7);
        PageSet b = PagePattern.Build(PagePatternKind.Random, 1000, 16UL << 20, 7);
        PageSet c = PagePattern.Build(PagePatternKind.Random, 1000, 16UL << 20, 8);
        Assert.Equal(1000, a.Count);
        Assert.True(a.Pages.SequenceEqual(b.Pages));
        Assert.False(a.Pages.SequenceEqual(c.Pages));
        Assert.True(a.Last < 4096);
        PageSet full = PagePattern.Build(PagePatternKind.Random, 4096, 16UL << 20, 7);
        Assert.Equal(4096, full.Count);
    }

    [Fact]
    public void A_skipped_scenario_passes_and_says_why()
    {
        var report = new ScenarioReport("x", "a scenario");
        report.Skip("needs Linux");
        Assert.True(report.Passed);
        Assert.True(report.Skipped);
        Assert.Throws<InvalidOperationException>(() => report.Check("c", true, ""));
    }
}
