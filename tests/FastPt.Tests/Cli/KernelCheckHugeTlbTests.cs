using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading;
using FastPt.Cli.Commands;
using FastPt.Cli.KernelCheck;
using FastPt.Tests.Tools;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary><c>kernel-check --hugetlb</c>: the logic against a directory of fake /proc and /sys files that behaves
/// like a kernel with HVO (<see cref="FakeHugeTlbKernel"/>), and once against the real kernel when
/// FASTPT_HUGETLB_TEST=1 and root.</summary>
public class KernelCheckHugeTlbTests
{
    private static readonly HugeTlbRequest Issue13 = new(512, 2);

    private static MachineOptions SmallMachine(HvoDesign design = HvoDesign.Linux6x) =>
        new() { MemorySize = 4UL << 30, HugeTlbVmemmapDesign = design };

    private static void AssertRestored(FakeHugeTlbKernel fake)
    {
        Assert.Equal("0", fake.ReadTrimmed(HugeTlbHostFiles.OptimizeVmemmap));
        Assert.Equal("0", fake.ReadTrimmed(HugeTlbHostFiles.NrHugepages(PageSize.Size2M)));
        Assert.Equal("0", fake.ReadTrimmed(HugeTlbHostFiles.NrHugepages(PageSize.Size1G)));
        // Every page freed came back: the memmap held is what it was.
        Assert.Equal(98304, fake.MemmapPages + fake.MemmapBootPages);
    }

    [Fact]
    public void The_memmap_counters_are_parsed_from_vmstat_and_missing_ones_named()
    {
        Assert.Equal(new MemmapCounters(12, 98304),
            HugeTlbHostFiles.ParseMemmap("nr_free_pages 1\nnr_memmap_pages 12\nnr_memmap_boot_pages 98304\nnr_dirty 0\n", out _));
        Assert.Null(HugeTlbHostFiles.ParseMemmap("nr_free_pages 1\nnr_memmap_boot_pages 3\n", out string missing));
        Assert.Equal("nr_memmap_pages", missing);
        Assert.Null(HugeTlbHostFiles.ParseMemmap("nr_memmap_pages 3\n", out missing));
        Assert.Equal("nr_memmap_boot_pages", missing);
        // A prefix of the name is another counter.
        Assert.Null(HugeTlbHostFiles.ParseMemmap("nr_memmap_pages_x 3\nnr_memmap_boot_pages 1\n", out missing));
    }

    [Fact]
    public void A_host_that_can_run_it_is_not_refused()
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        Assert.Null(HugeTlbHostFiles.Unsupported(fake, FakeHugeTlbKernel.Root, Issue13));
    }

    [Fact]
    public void Every_refusal_says_why_and_writes_nothing()
    {
        HostIdentity root = FakeHugeTlbKernel.Root;
        (Func<FakeHugeTlbKernel> Make, HostIdentity Host, HugeTlbRequest Request, string Says)[] cases =
        [
            (() => FakeHugeTlbKernel.Create(), root with { IsLinux = false, OsDescription = "Darwin 24" }, Issue13, "needs a Linux kernel"),
            (() => FakeHugeTlbKernel.Create(), root with { Architecture = Architecture.Arm64 }, Issue13, "x86-64"),
            (() => FakeHugeTlbKernel.Create(), root with { PageSize = 16384 }, Issue13, "4 KiB base pages"),
            (() => FakeHugeTlbKernel.Create(), root with { IsPrivileged = false }, Issue13, "needs root"),
            (() => FakeHugeTlbKernel.Create(withSwitch: false), root, Issue13, "hugetlb_optimize_vmemmap does not exist"),
            (() => FakeHugeTlbKernel.Create(withCounters: false), root, Issue13, "has no nr_memmap_pages"),
            (() => FakeHugeTlbKernel.Create(with1G: false), root, Issue13, "no 1 GiB HugeTLB pages"),
            (() => FakeHugeTlbKernel.Create(), root, new HugeTlbRequest(0, 20), "more than half of this host's available memory"),
        ];
        foreach ((Func<FakeHugeTlbKernel> make, HostIdentity host, HugeTlbRequest request, string says) in cases)
        {
            using FakeHugeTlbKernel fake = make();
            string? reason = HugeTlbHostFiles.Unsupported(fake, host, request);
            Assert.NotNull(reason);
            Assert.Contains(says, reason, StringComparison.Ordinal);
            Assert.Empty(fake.Writes);

            // The command refuses with a usage error before it boots anything or changes a setting.
            using var output = new StringWriter();
            using var error = new StringWriter();
            var exception = Assert.Throws<CliException>(() => KernelCheckHugeTlb.Run(new CliEnvironment(output, error, false, 80), request, SmallMachine(), false, fake, host));
            Assert.Equal(ExitCodes.Usage, exception.ExitCode);
            Assert.Empty(fake.Writes);
        }

        // Without 1 GiB pages, a run of 2 MiB folios only is fine.
        using FakeHugeTlbKernel no1G = FakeHugeTlbKernel.Create(with1G: false);
        Assert.Null(HugeTlbHostFiles.Unsupported(no1G, root, new HugeTlbRequest(512, 0)));
    }

    [Fact]
    public void The_host_figures_are_read_in_two_agreeing_rounds_and_every_setting_restored()
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        HostHugeTlbMeasurement host = HugeTlbHost.Measure(fake, Issue13, CancellationToken.None);
        Assert.Equal("0", host.OptimizeBefore);
        HostHugeTlbSize size2M = host.Sizes[0], size1G = host.Sizes[1];
        Assert.True(size2M.Agreed && size1G.Agreed);
        Assert.Equal(2, size2M.Rounds.Count);
        Assert.Equal((512, 3584, 3584), (size2M.Got, size2M.Result.FreedOnGrow, size2M.Result.ReallocatedOnShrink));
        Assert.Equal((2, 8190, 8190), (size1G.Got, size1G.Result.FreedOnGrow, size1G.Result.ReallocatedOnShrink));
        // The first round freed boot memmap, the second the runtime pages the first restore allocated: the sum is the figure.
        Assert.Equal(-3584, size2M.Rounds[0].AfterGrow.MemmapBootPages - size2M.Rounds[0].BeforeGrow.MemmapBootPages);
        Assert.Equal(-3584, size2M.Rounds[1].AfterGrow.MemmapPages - size2M.Rounds[1].BeforeGrow.MemmapPages);
        Assert.All(host.Restored, setting => Assert.True(setting.Intact, setting.Name));
        Assert.Contains(host.Restored, setting => setting.Name == "hugetlb_optimize_vmemmap" && setting.Written);
        AssertRestored(fake);
        // The switch is the first write and the last.
        Assert.Equal((HugeTlbHostFiles.OptimizeVmemmap, "1\n"), fake.Writes[0]);
        Assert.Equal((HugeTlbHostFiles.OptimizeVmemmap, "0\n"), fake.Writes[^1]);
    }

    [Fact]
    public void Existing_pool_folios_and_a_switch_already_on_are_left_as_found()
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        fake.WriteAllText(HugeTlbHostFiles.NrHugepages(PageSize.Size2M), "3");
        fake.Put(HugeTlbHostFiles.OptimizeVmemmap, "1\n");
        fake.Writes.Clear();
        HostHugeTlbMeasurement host = HugeTlbHost.Measure(fake, new HugeTlbRequest(10, 0), CancellationToken.None);
        Assert.Equal((3, 10, 70), (host.Sizes[0].PoolBefore, host.Sizes[0].Got, host.Sizes[0].Result.FreedOnGrow));
        Assert.Equal("1", fake.ReadTrimmed(HugeTlbHostFiles.OptimizeVmemmap));
        Assert.Equal("3", fake.ReadTrimmed(HugeTlbHostFiles.NrHugepages(PageSize.Size2M)));
        // A setting that was never changed is not written back.
        Assert.DoesNotContain(fake.Writes, write => write.Path == HugeTlbHostFiles.OptimizeVmemmap);
    }

    [Fact]
    public void A_kernel_that_gets_fewer_1G_folios_is_compared_on_what_it_got()
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        fake.Max1G = 1;
        using var machine = new Machine(SmallMachine());
        HugeTlbCheckResult result = HugeTlbComparison.Run(fake, machine, Issue13, CancellationToken.None);
        HugeTlbSizeComparison size1G = result.Sizes[1];
        Assert.Equal((2, 1, 4095), (size1G.Kernel.Requested, size1G.Kernel.Got, size1G.Kernel.Result.FreedOnGrow));
        Assert.Equal(1, size1G.FastPt!.Folios);
        Assert.True(result.Passed, result.Verdict);
        Assert.Contains("got only 1", KernelCheckHugeTlb.DescribeKernelSize(size1G.Kernel), StringComparison.Ordinal);
        AssertRestored(fake);
    }

    [Fact]
    public void Counters_moved_by_something_else_are_measured_again_until_two_rounds_agree()
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        int reads = 0;
        // Another process's memmap changes during the first round only (the third vmstat read: after the grow).
        fake.BeforeVmstatRead = () =>
        {
            if (++reads == 2) fake.MemmapPages += 512;
        };
        HostHugeTlbMeasurement host = HugeTlbHost.Measure(fake, new HugeTlbRequest(512, 0), CancellationToken.None);
        HostHugeTlbSize size = host.Sizes[0];
        Assert.Equal(3, size.Rounds.Count);
        Assert.Equal(3584 - 512, size.Rounds[0].FreedOnGrow);
        Assert.True(size.Agreed);
        Assert.Equal(3584, size.Result.FreedOnGrow);

        // Counters that never settle are reported as such, not compared.
        using FakeHugeTlbKernel noisy = FakeHugeTlbKernel.Create();
        noisy.BeforeVmstatRead = () => noisy.MemmapPages += ++reads;   // a different drift every round
        using var machine = new Machine(SmallMachine());
        HugeTlbCheckResult result = HugeTlbComparison.Run(noisy, machine, new HugeTlbRequest(512, 0), CancellationToken.None);
        Assert.False(result.Sizes[0].Kernel.Agreed);
        Assert.Equal(HugeTlbHost.MaxRounds, result.Sizes[0].Kernel.Rounds.Count);
        Assert.False(result.Passed);
        Assert.Contains("never agreed", result.Verdict, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]   // the switch itself: nothing changed yet
    [InlineData(1)]   // the first 2 MiB grow, right after the switch went on
    [InlineData(5)]   // the 1 GiB grow, after the 2 MiB pool was measured
    [InlineData(6)]   // the 1 GiB shrink: the restore writes it instead
    public void A_write_failing_midway_leaves_every_setting_restored(int failingWrite)
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        int writes = 0;
        bool failed = false;
        fake.BeforeWrite = (_, _) =>
        {
            if (!failed && writes++ == failingWrite)
            {
                failed = true;
                throw new IOException("Cannot allocate memory");
            }
        };
        var exception = Assert.Throws<KernelCheckException>(() => HugeTlbHost.Measure(fake, Issue13, CancellationToken.None));
        Assert.True(failed);
        Assert.Contains("Cannot allocate memory", exception.Message, StringComparison.Ordinal);
        AssertRestored(fake);
    }

    [Fact]
    public void A_read_failing_between_grow_and_shrink_leaves_every_setting_restored()
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        bool grown = false, failed = false;
        fake.BeforeWrite = (path, text) => grown |= path == HugeTlbHostFiles.NrHugepages(PageSize.Size1G) && text == "2\n";
        fake.BeforeVmstatRead = () =>
        {
            if (grown && !failed)
            {
                failed = true;
                throw new IOException("Input/output error");
            }
        };
        var exception = Assert.Throws<KernelCheckException>(() => HugeTlbHost.Measure(fake, Issue13, CancellationToken.None));
        Assert.True(failed);
        Assert.Contains("Input/output error", exception.Message, StringComparison.Ordinal);
        Assert.Contains(fake.FullPath(HugeTlbHostFiles.Vmstat), exception.Message, StringComparison.Ordinal);
        AssertRestored(fake);
    }

    [Fact]
    public void A_signal_midway_stops_the_run_with_every_setting_restored()
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        using var stop = new CancellationTokenSource();
        // The signal arrives while the 1 GiB pool grows (the guard turns a signal into this cancellation).
        fake.BeforeWrite = (path, text) =>
        {
            if (path == HugeTlbHostFiles.NrHugepages(PageSize.Size1G) && text != "0\n") stop.Cancel();
        };
        Assert.ThrowsAny<OperationCanceledException>(() => HugeTlbHost.Measure(fake, Issue13, stop.Token));
        AssertRestored(fake);
    }

    [Fact]
    public void A_restore_the_kernel_refuses_is_reported_with_the_command_that_does_it_by_hand()
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        fake.BeforeWrite = (path, text) =>
        {
            if (path == HugeTlbHostFiles.OptimizeVmemmap && text == "0\n") throw new IOException("Device or resource busy");
        };
        var exception = Assert.Throws<KernelCheckException>(() => HugeTlbHost.Measure(fake, Issue13, CancellationToken.None));
        Assert.Contains("restore it by hand: echo 0 > " + fake.FullPath(HugeTlbHostFiles.OptimizeVmemmap), exception.Message, StringComparison.Ordinal);
        // The pools were restored regardless.
        Assert.Equal("0", fake.ReadTrimmed(HugeTlbHostFiles.NrHugepages(PageSize.Size2M)));
        Assert.Equal("0", fake.ReadTrimmed(HugeTlbHostFiles.NrHugepages(PageSize.Size1G)));
    }

    [Fact]
    public void A_real_signal_is_held_while_the_guard_lives_and_cancels_its_token()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() && File.Exists("/bin/kill"), "needs Linux and /bin/kill to send this process a signal");
        // Under nohup the process starts with SIGHUP ignored, and the runtime keeps an ignored signal ignored: the
        // guard never sees it (the suite failed here only when run under nohup).
        Assert.SkipWhen(ChildProcess.SignalIgnored(1), "SIGHUP is ignored in this process (started under nohup?): it cannot reach the guard");
        // SIGHUP: nothing else in the test process listens for it, so the signal reaches only this guard; without the
        // guard holding it, it would end the test process.
        using var guard = new InterruptGuard();
        using (var kill = System.Diagnostics.Process.Start("/bin/kill", ["-HUP", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
            Assert.Equal(0, kill.ExitCode);
        }
        Assert.True(guard.Token.WaitHandle.WaitOne(TimeSpan.FromMinutes(1)), "the signal never reached the guard");
        Assert.Equal("SIGHUP", guard.Signal);
    }

    [Theory]
    [InlineData(HvoDesign.Linux6x)]
    [InlineData(HvoDesign.SharedTail)]
    public void FastPt_frees_and_reallocates_what_a_6x_kernel_does(HvoDesign design)
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        using var machine = new Machine(SmallMachine(design));
        HugeTlbCheckResult result = HugeTlbComparison.Run(fake, machine, Issue13, CancellationToken.None);
        FastPtHugeTlbSize f2M = result.Sizes[0].FastPt!, f1G = result.Sizes[1].FastPt!;
        Assert.Equal((3584, 8190), (f2M.HvoPagesFreed, f1G.HvoPagesFreed));
        Assert.Equal((3584, 8190), (f2M.ReallocatedOnShrink, f1G.ReallocatedOnShrink));
        if (design == HvoDesign.Linux6x)
        {
            Assert.True(result.Passed, result.Verdict);
            Assert.Equal((3584, 8190), (f2M.FreedOnGrow, f1G.FreedOnGrow));
        }
        else
        {
            // The shared tail pages stay in memmap: a truth about the design, shown as a difference from a 6.x kernel.
            Assert.True(f2M.SharedTailPages > 0);
            Assert.Equal(3584 - f2M.SharedTailPages, f2M.FreedOnGrow);
            Assert.False(result.Passed);
        }
        Assert.Equal(0, machine.HugeTlb.GetCounts(PageSize.Size2M).Total);
        Assert.False(machine.HugeTlb.OptimizeVmemmap);
    }

    [Fact]
    public void A_kernel_that_frees_other_counts_fails_with_the_difference()
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        fake.FreedPer2M = 6;
        using var machine = new Machine(SmallMachine());
        HugeTlbCheckResult result = HugeTlbComparison.Run(fake, machine, Issue13, CancellationToken.None);
        Assert.False(result.Passed);
        Assert.Equal("FAIL: FastPt differs from the kernel: 2 MiB freed +512, re-allocated +512 pages", result.Verdict);
        Assert.True(result.Sizes[1].Equal);
    }

    [Fact]
    public void The_command_prints_the_side_by_side_table_in_80_columns_and_json()
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = KernelCheckHugeTlb.Run(new CliEnvironment(output, error, false, 80), Issue13, SmallMachine(), false, fake, FakeHugeTlbKernel.Root);
        string text = output.ToString();
        Assert.True(exit == ExitCodes.Success, text + error);
        Assert.All(text.Split('\n'), line => Assert.True(line.TrimEnd('\r').Length <= 80, line));
        Assert.Contains("freed on grow", text, StringComparison.Ordinal);
        Assert.Contains("re-allocated on shrink", text, StringComparison.Ordinal);
        Assert.Contains("8,190", text, StringComparison.Ordinal);
        Assert.Contains("PASS: FastPt frees and re-allocates exactly the kernel's vmemmap pages", text, StringComparison.Ordinal);
        // What is about to change is said on stderr before anything changes.
        Assert.Contains(fake.FullPath(HugeTlbHostFiles.OptimizeVmemmap) + " = 0", error.ToString(), StringComparison.Ordinal);
        AssertRestored(fake);

        fake.FreedPer1G = 4094;
        using var json = new StringWriter();
        exit = KernelCheckHugeTlb.Run(new CliEnvironment(json, error, false, 80), Issue13, SmallMachine(), true, fake, FakeHugeTlbKernel.Root);
        Assert.Equal(ExitCodes.ChecksFailed, exit);
        using JsonDocument document = JsonDocument.Parse(json.ToString());
        JsonElement root = document.RootElement;
        Assert.False(root.GetProperty("passed").GetBoolean());
        JsonElement size1G = root.GetProperty("sizes")[1];
        Assert.Equal("1G", size1G.GetProperty("pageSize").GetString());
        Assert.Equal(8188, size1G.GetProperty("kernel").GetProperty("freedOnGrow").GetInt64());
        Assert.Equal(8190, size1G.GetProperty("fastpt").GetProperty("freedOnGrow").GetInt64());
        Assert.Equal(2, size1G.GetProperty("difference").GetProperty("freedOnGrow").GetInt64());
        Assert.All(root.GetProperty("kernel").GetProperty("restored").EnumerateArray(),
            setting => Assert.Equal(setting.GetProperty("saved").GetString(), setting.GetProperty("now").GetString()));
    }

    [Fact]
    public void A_kernel_that_gets_no_folio_at_all_is_bad_input_with_nothing_compared()
    {
        using FakeHugeTlbKernel fake = FakeHugeTlbKernel.Create();
        fake.Max1G = 0;
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exception = Assert.Throws<CliException>(() =>
            KernelCheckHugeTlb.Run(new CliEnvironment(output, error, false, 80), new HugeTlbRequest(0, 2), SmallMachine(), false, fake, FakeHugeTlbKernel.Root));
        Assert.Equal(ExitCodes.BadInput, exception.ExitCode);
        Assert.Contains("nothing was compared", exception.Message, StringComparison.Ordinal);
        AssertRestored(fake);
    }

    [Theory]
    [InlineData("kernel-check", "--hugetlb", "--pattern", "dense")]
    [InlineData("kernel-check", "--hugetlb", "--count", "5")]
    [InlineData("kernel-check", "--hugetlb", "--pages", "x.txt")]
    [InlineData("kernel-check", "--pages-2m", "5")]
    [InlineData("kernel-check", "--design", "shared")]
    [InlineData("kernel-check", "--hugetlb", "--pages-2m", "-1")]
    [InlineData("kernel-check", "--hugetlb", "--pages-1g", "70000")]
    [InlineData("kernel-check", "--hugetlb", "--pages-2m", "0", "--pages-1g", "0")]
    [InlineData("kernel-check", "--hugetlb", "--design", "bogus")]
    [InlineData("kernel-check", "--hugetlb", "--pages-1g", "40", "--memory", "8G")]
    [InlineData("--pattern", "dense", "kernel-check", "--hugetlb")]
    public void Bad_arguments_are_usage_errors_before_anything_changes(params string[] args)
    {
        // Each is refused while parsing or validating, before the host is even looked at.
        CliRunner.Result result = CliRunner.Run(args);
        Assert.True(result.ExitCode == ExitCodes.Usage, result.Output + result.Error);
        Assert.StartsWith("fastpt: ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_real_kernel_agrees_when_a_privileged_user_asks()
    {
        Assert.SkipUnless(Environment.GetEnvironmentVariable("FASTPT_HUGETLB_TEST") == "1",
            "changes vm.hugetlb_optimize_vmemmap and nr_hugepages while it runs; set FASTPT_HUGETLB_TEST=1 (as root, on a test machine) to run it");
        string? reason = HugeTlbHostFiles.Unsupported(RootedHostFiles.Host, HostIdentity.Current, Issue13);
        Assert.SkipWhen(reason is not null, reason ?? "");
        string[] settings = [HugeTlbHostFiles.OptimizeVmemmap, HugeTlbHostFiles.NrHugepages(PageSize.Size2M), HugeTlbHostFiles.NrHugepages(PageSize.Size1G)];
        string[] before = settings.Select(path => File.ReadAllText("/" + path).Trim()).ToArray();

        CliRunner.Result result = CliRunner.Run("kernel-check", "--hugetlb", "--pages-2m", "512", "--pages-1g", "2", "--json");
        Assert.Equal(before, settings.Select(path => File.ReadAllText("/" + path).Trim()).ToArray());
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        foreach (JsonElement size in document.RootElement.GetProperty("sizes").EnumerateArray())
        {
            long got = size.GetProperty("kernelGot").GetInt64();
            long perFolio = size.GetProperty("pageSize").GetString() == "2M" ? 7 : 4095;
            // The kernel's own figures match what HVO frees by construction, so a broken probe cannot pass.
            Assert.Equal(got * perFolio, size.GetProperty("kernel").GetProperty("freedOnGrow").GetInt64());
            Assert.Equal(got * perFolio, size.GetProperty("kernel").GetProperty("reallocatedOnShrink").GetInt64());
            Assert.Equal(0, size.GetProperty("difference").GetProperty("freedOnGrow").GetInt64());
            Assert.Equal(0, size.GetProperty("difference").GetProperty("reallocatedOnShrink").GetInt64());
        }
        Assert.Equal(512, document.RootElement.GetProperty("sizes")[0].GetProperty("kernelGot").GetInt64());
    }
}
