using System.Collections.Generic;
using System.Linq;
using FastPt.Cli.Scenarios;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary>The hugetlb scenario gives the Linux 6.18 numbers in both designs (512 × 2 MiB folios free 3584 memmap
/// pages, 2 × 1 GiB folios 8190, and freeing them re-allocates the same), passes the kpageflags selftest and puts
/// every counter back; with the switch off nothing is freed.</summary>
public sealed class HugeTlbScenarioTests
{
    [Theory]
    [InlineData(HvoDesign.Linux6x)]
    [InlineData(HvoDesign.SharedTail)]
    public void Gives_the_kernels_numbers_and_puts_everything_back(HvoDesign design)
    {
        var options = new MachineOptions { MemorySize = 4UL << 30, HugeTlbVmemmapDesign = design };
        ScenarioReport report = ScenarioRunner.Run(new HugeTlbScenario(512, 2, optimize: true), options, seed: 1);
        Assert.True(report.Passed, string.Join("; ", report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Detail}")));
        Dictionary<string, ReportValue> facts = report.Facts.ToDictionary(f => f.Name, f => f.Value);
        Assert.Equal(3584, facts["2M.memmapPagesFreed"].WholeNumber);
        Assert.Equal(3584, facts["2M.memmapPagesRestored"].WholeNumber);
        Assert.Equal(512, facts["2M.foliosOptimized"].WholeNumber);
        Assert.Equal(8190, facts["1G.memmapPagesFreed"].WholeNumber);
        Assert.Equal(8190, facts["1G.memmapPagesRestored"].WholeNumber);
        Assert.Equal(2, facts["1G.foliosOptimized"].WholeNumber);
    }

    /// <summary>Per TiB: 524,288 folios of 2 MiB each save 7 pages of 4 KiB (14 GiB); 1024 folios of 1 GiB each save
    /// 4095 (about 16 GiB). The folio size is the page size's, not a vmemmap page's reach.</summary>
    [Fact]
    public void Memmap_saved_per_TiB_counts_folios_of_the_pools_size()
    {
        Assert.Equal(14L << 30, HugeTlbScenario.MemmapBytesSavedPerTiB(PageSize.Size2M, 7));
        Assert.Equal(4095L * 4096 * 1024, HugeTlbScenario.MemmapBytesSavedPerTiB(PageSize.Size1G, 4095));
        Assert.Equal(0, HugeTlbScenario.MemmapBytesSavedPerTiB(PageSize.Size2M, 0));
        var options = new MachineOptions { MemorySize = 4UL << 30 };
        ScenarioReport report = ScenarioRunner.Run(new HugeTlbScenario(64, 1, optimize: true), options, seed: 1);
        Assert.True(report.Passed, string.Join("; ", report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Detail}")));
        Dictionary<string, ReportValue> facts = report.Facts.ToDictionary(f => f.Name, f => f.Value);
        Assert.Equal(14L << 30, facts["2M.memmapBytesSavedPerTiB"].WholeNumber);
        Assert.Equal(4095L * 4096 * 1024, facts["1G.memmapBytesSavedPerTiB"].WholeNumber);
    }

    [Fact]
    public void Switch_off_frees_nothing()
    {
        var options = new MachineOptions { MemorySize = 4UL << 30 };
        ScenarioReport report = ScenarioRunner.Run(new HugeTlbScenario(64, 1, optimize: false), options, seed: 1);
        Assert.True(report.Passed);
        Dictionary<string, ReportValue> facts = report.Facts.ToDictionary(f => f.Name, f => f.Value);
        Assert.Equal(0, facts["2M.memmapPagesFreed"].WholeNumber);
        Assert.Equal(0, facts["1G.foliosOptimized"].WholeNumber);
    }

    /// <summary>512 × 2 MiB folios do not fit in 1 GiB: asked for explicitly, the scenario does not run and says how
    /// far the pool got (no false FAIL from a pool the machine cannot hold, and the warm-up's partial pool is given
    /// back rather than left for the timed passes); fitted, it runs with what fits and every check passes.</summary>
    [Fact]
    public void A_count_the_machine_cannot_hold_is_not_run_or_fitted_never_a_failed_check()
    {
        var options = new MachineOptions { MemorySize = 1UL << 30 };
        ScenarioReport held = ScenarioRunner.Run(new HugeTlbScenario(512, 0, optimize: true), options, seed: 1);
        Assert.NotNull(held.NotRunReason);
        Assert.Contains("512 × 2M folios asked for, the pool reached", held.NotRunReason, System.StringComparison.Ordinal);
        Assert.Empty(held.Checks);

        ScenarioReport fitted = ScenarioRunner.Run(new HugeTlbScenario(512, 2, optimize: true, fitToMemory: true), options, seed: 1);
        Assert.Null(fitted.NotRunReason);
        Assert.True(fitted.Passed, string.Join("; ", fitted.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Detail}")));
        Dictionary<string, ReportValue> facts = fitted.Facts.ToDictionary(f => f.Name, f => f.Value);
        long folios = facts["2M.folios"].WholeNumber;
        Assert.InRange(folios, 1, 511);
        Assert.Equal(folios * 7, facts["2M.memmapPagesFreed"].WholeNumber);
        Assert.Equal(folios * 7, facts["2M.memmapPagesRestored"].WholeNumber);
        Assert.Equal(0, facts["1G.folios"].WholeNumber);
    }
}
